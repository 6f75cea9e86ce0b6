import { describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { MultiDict } from "../../src/framework/http/datastructures.ts";
import { RequestEntityTooLarge } from "../../src/framework/errors.ts";
import { parseQueryString } from "../../src/framework/http/forms.ts";

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

  it("stops at the first field past maxFields, before decoding the rest", () => {
    const append = mock.method(MultiDict.prototype, "append");
    try {
      const text = Array.from({ length: 10_000 }, (_, i) => `f${i}=v`).join("&");
      assert.throws(() => parseQueryString(text, 3), RequestEntityTooLarge);
      assert.equal(append.mock.callCount(), 3);
    } finally {
      append.mock.restore();
    }
  });

  it("counts fields even when an escape is malformed", () => {
    assert.throws(() => parseQueryString("a=%zz&b=1&c=2", 2), RequestEntityTooLarge);
    assert.deepEqual(
      [...parseQueryString("a=%zz&&b=1&", 2)],
      [
        ["a", "%zz"],
        ["b", "1"],
      ],
    );
  });
});
