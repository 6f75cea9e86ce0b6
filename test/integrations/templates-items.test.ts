// Jinja's item access (`request.form['title']`, `session['user_id']`, …) in Carafe's templates,
// checked against what Flask renders for the same template file and the same request.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, renderTemplate, renderTemplateString, session, type TestClient } from "carafe";

const ITEMS_TEMPLATE = [
  "form[{{ request.form['title'] }}|{{ request.form.title }}|{{ request.form['nope'] }}|" +
    "{{ request.form.get('title', '') }}|{{ request.form.get('nope', 'dflt') }}|" +
    "{{ request.form['nope'] | default('dflt') }}|" +
    "{% if request.form['nope'] %}set{% else %}unset{% endif %}|" +
    "{% if 'title' in request.form %}in{% endif %}{% if 'nope' in request.form %}nope-in{% endif %}|" +
    "{{ request.form | length }}|{% for key in request.form %}{{ key }};{% endfor %}|" +
    "{% for key, value in request.form.items() %}{{ key }}={{ value }};{% endfor %}]",
  "args[{{ request.args['q'] }}|{{ request.args.q }}|{{ request.args.get('q') }}|{{ request.args['page'] }}]",
  "headers[{{ request.headers['Host'] }}|{{ request.headers['x-custom'] }}|" +
    "{{ request.headers['X-Custom'] }}|{{ request.headers.get('X-Missing', 'none') }}]",
  "cookies[{{ request.cookies['c'] }}|{{ request.cookies.get('c') }}|{{ request.cookies['nope'] }}]",
  "files[{{ request.files['upload'].filename }}]",
  "session[{{ session.user_id }}|{{ session['user_id'] }}|{{ session.get('user_id') }}|" +
    "{{ session.user_id + 1 }}|{{ session['nope'] }}|{% for key in session %}{{ key }};{% endfor %}|" +
    "{% for key, value in session.items() %}{{ key }}={{ value }};{% endfor %}]",
  "request[{{ request.path }}|{{ request.method }}]",
].join("\n");

// What Flask 3.1 renders for ITEMS_TEMPLATE and the request the first test sends.
const FLASK_OUTPUT = [
  "form[&lt;b&gt;Tea&lt;/b&gt; &amp; co|&lt;b&gt;Tea&lt;/b&gt; &amp; co||&lt;b&gt;Tea&lt;/b&gt; &amp; co|" +
    "dflt|dflt|unset|in|2|title;body;|title=&lt;b&gt;Tea&lt;/b&gt; &amp; co;body=Hot;]",
  "args[tea|tea|tea|]",
  "headers[localhost|yes|yes|none]",
  "cookies[cv|cv|]",
  "files[notes.txt]",
  "session[3|3|3|4||user_id;name;|user_id=3;name=ada;]",
  "request[/items|POST]",
].join("\n");

// Flaskr's create page, whose fields keep what the user typed when the form is refused.
const CREATE_TEMPLATE =
  "<form method=post>" +
  "<input name=title value=\"{{ request.form['title'] }}\">" +
  "<textarea name=body>{{ request.form['body'] }}</textarea>" +
  "</form>{% if error %}<p class=error>{{ error }}</p>{% endif %}";

let tmp: string;
let app: Carafe;
let client: TestClient;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "carafe-template-items-"));
  mkdirSync(join(tmp, "templates"));
  writeFileSync(join(tmp, "templates", "items.html"), ITEMS_TEMPLATE);
  writeFileSync(join(tmp, "templates", "create.html"), CREATE_TEMPLATE);
  app = new Carafe({ rootPath: tmp, secretKey: "s3cret", staticFolder: null });
  app.post("/items", function items() {
    session.set("user_id", 3);
    session.set("name", "ada");
    return renderTemplate("items.html");
  });
  app.route("/create", { methods: ["GET", "POST"] }, function create(req) {
    let error: string | undefined;
    if (req.method === "POST" && !req.form.get("title")) error = "Title is required.";
    return renderTemplate("create.html", { error });
  });
  app.get("/string", function string(req) {
    return renderTemplateString(req.args.get("template", ""), { form: req.args });
  });
  client = app.testClient();
});

after(() => rmSync(tmp, { recursive: true, force: true }));

const render = async (template: string, query: Record<string, string> = {}): Promise<string> =>
  (await client.get("/string", { query: { template, ...query } })).text();

describe("item access in templates", () => {
  it("renders request.form/args/headers/cookies/files and session items as Flask does", async () => {
    client.setCookie("c", "cv");
    const res = await client.post("/items", {
      query: { q: "tea" },
      headers: { "X-Custom": "yes" },
      form: { title: "<b>Tea</b> & co", body: "Hot" },
      files: { upload: { filename: "notes.txt", content: "x" } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text(), FLASK_OUTPUT);
  });

  it("keeps what the user typed in a refused form (Flaskr's create page)", async () => {
    const res = await client.post("/create", { form: { title: "", body: "My <draft>" } });
    assert.equal(
      res.text(),
      '<form method=post><input name=title value=""><textarea name=body>My &lt;draft&gt;</textarea>' +
        "</form><p class=error>Title is required.</p>",
    );
    const empty = await client.get("/create");
    assert.equal(
      empty.text(),
      '<form method=post><input name=title value=""><textarea name=body></textarea></form>',
    );
  });

  it("gives item access to a MultiDict passed in the render's own values", async () => {
    assert.equal(
      await render("{{ form['a'] }}-{{ form.b }}-{{ form['c'] }}", { a: "1", b: "2" }),
      "1-2-",
    );
  });

  it("keeps the methods: getAll, get with a default, has, keys", async () => {
    const text = await render(
      "{{ request.args.getAll('tag') | join('+') }}|{{ request.args.get('n', 'none') }}|" +
        "{{ request.args.has('tag') }}|{{ request.args.keys() | join(',') }}",
      { tag: "x" },
    );
    // `tag` is sent once by the helper; `template` is the other argument.
    assert.equal(text, "x|none|true|template,tag");
  });

  it("answers a key that names a method with the method; .get() reads the item", async () => {
    const text = await render("{{ request.args.get('get') }}|{{ request.args['size'] }}", {
      get: "item",
    });
    assert.equal(text, "item|2");
  });
});
