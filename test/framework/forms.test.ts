import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MultiDict } from "../../src/framework/datastructures.ts";
import { parseQueryString } from "../../src/framework/forms.ts";

describe("parseQueryString", () => {
  it("reads what URLSearchParams reads, malformed escapes included", () => {
    const cases = [
      "a=1&b=2&a=3",
      "q=hello+world&e=%E2%82%AC",
      "k",
      "k=",
      "=v",
      "&&a=1&",
      "a=%zz&b=%ff",
      "a=b=c",
      "%41%42=1",
      "a+b=c+d",
      "é=ü",
      "a=%2B&b=%25",
      "a&b=1",
      "a=1&b",
      "&",
      "=",
      "a==b&=&c",
      "",
    ];
    for (const text of cases) {
      assert.deepEqual(
        [...parseQueryString(text)],
        [...new MultiDict(new URLSearchParams(text))],
        text,
      );
    }
  });

  it("keeps every value of a repeated key in order", () => {
    assert.deepEqual(parseQueryString("t=1&x=0&t=2&t=3").getAll("t"), ["1", "2", "3"]);
  });
});
