import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Carafe,
  g,
  renderTemplate,
  renderTemplateString,
  session,
  templateEnvironment,
  type Logger,
  type TemplateEnvironment,
  type TemplateExtension,
  type TestClient,
} from "carafe";

// An app's own config key, declared as an app would declare it.
declare module "carafe" {
  interface AppConfig {
    siteName?: string;
  }
}

/** The parts of Nunjucks' parser and nodes a one-tag extension uses (Nunjucks leaves them untyped). */
interface Parser {
  nextToken(): { value: string };
  parseSignature(throws: null, noParens: boolean): unknown;
  advanceAfterBlockEnd(name: string): void;
}
interface Nodes {
  CallExtension: new (extension: object, method: string, args: unknown, body: unknown[]) => unknown;
}

/** `{% shout 'text' %}` writes the text in capitals. */
class ShoutExtension implements TemplateExtension {
  tags = ["shout"];
  parse(parser: Parser, nodes: Nodes): unknown {
    const token = parser.nextToken();
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(token.value);
    return new nodes.CallExtension(this, "run", args, []);
  }
  run(_context: unknown, text: string): string {
    return text.toUpperCase();
  }
}

let tmp: string;
let app: Carafe;
let client: TestClient;
const logged: { message: string; error: unknown }[] = [];

const TEMPLATES: Record<string, string> = {
  "base.html":
    "<title>{% block title %}Default title{% endblock %}</title>" +
    "<main>{% block content %}base content{% endblock %}</main>" +
    "<footer>{% block footer %}base footer{% endblock %}</footer>",
  "page.html":
    '{% extends "base.html" %}' +
    "{% block title %}{{ heading }} - {{ super() }}{% endblock %}" +
    "{% block content %}<h1>{{ heading }}</h1>{% endblock %}",
  "escape.html": "[{{ value }}]({{ value | safe }})",
  "links.html":
    "{{ url_for('user', id=3) }}|{{ urlFor('user', id=4) }}|" +
    "{{ url_for('static', filename='app.css') }}|{{ url_for('user', id=5, tab='posts') }}|" +
    "{{ url_for('user', id=6, _external=true) }}|{{ url_for('user', id=7, _anchor='top') }}",
  "context.html":
    "path={{ request.path }};q={{ request.args.get('q') }};method={{ request.method }};" +
    "user={{ session.user }};who={{ g.who }};site={{ config.siteName }}",
  "filters.html": "{{ name | shout }}",
  "admin/panel.html": '{% extends "base.html" %}{% block content %}panel{% endblock %}',
  "broken.html": "{% if %}",
};

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "carafe-templates-"));
  for (const [name, source] of Object.entries(TEMPLATES)) {
    const file = join(tmp, "templates", name);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, source);
  }
  app = new Carafe({ rootPath: tmp, secretKey: "s3cret" });
  app.config.siteName = "Carafe & Co";
  const logger: Logger = {
    error: (message, error) => logged.push({ message, error }),
    warn: () => {},
    info: () => {},
  };
  app.logger = logger;
  templateEnvironment(app).addFilter("shout", (text: string) => `${text.toUpperCase()}!`);

  app.beforeRequest(() => {
    g["who"] = "a <guest>";
  });
  app.get("/user/<int:id>", function user(req) {
    return `user ${req.params.id}`;
  });
  app.get("/page", function page() {
    return renderTemplate("page.html", { heading: "Welcome" });
  });
  app.get("/base", function base() {
    return renderTemplate("base.html");
  });
  app.get("/panel", function panel() {
    return renderTemplate("admin/panel.html");
  });
  app.get("/escape", function escape(req) {
    return renderTemplate("escape.html", { value: req.args.get("value", "") });
  });
  app.get("/links", function links() {
    return renderTemplate("links.html");
  });
  app.get("/context", function context() {
    session.set("user", "ada");
    return renderTemplate("context.html");
  });
  app.get("/filters", function filters() {
    return renderTemplate("filters.html", { name: "ada" });
  });
  app.get("/string", function string(req) {
    return renderTemplateString(
      "Hello {{ name }} at {{ request.path }}, {{ url_for('user', id=9) }}",
      {
        name: req.args.get("name", ""),
      },
    );
  });
  app.get("/string-filter", function stringFilter() {
    return renderTemplateString("{{ 'quiet' | shout }}");
  });
  app.get("/missing", function missing() {
    return renderTemplate("does-not-exist.html");
  });
  app.get("/broken", function broken() {
    return renderTemplate("broken.html");
  });
  app.get("/session-page", function sessionPage() {
    return renderTemplate("base.html");
  });
  app.get("/login", function login() {
    session.set("user", "ada");
    return "ok";
  });
  client = app.testClient();
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("renderTemplate", () => {
  it("renders a template that extends a base and overrides its blocks", async () => {
    const res = await client.get("/page");
    assert.equal(res.status, 200);
    assert.equal(res.mimetype, "text/html");
    assert.equal(
      res.text(),
      "<title>Welcome - Default title</title><main><h1>Welcome</h1></main><footer>base footer</footer>",
    );
  });

  it("renders the base template's own blocks and templates in subfolders", async () => {
    assert.equal(
      (await client.get("/base")).text(),
      "<title>Default title</title><main>base content</main><footer>base footer</footer>",
    );
    assert.match((await client.get("/panel")).text(), /<main>panel<\/main>/);
  });

  it("escapes values by default and leaves values marked | safe alone", async () => {
    const value = `<script>alert("x")</script> & 'quotes'`;
    const res = await client.get("/escape", { query: { value } });
    assert.equal(
      res.text(),
      "[&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;]" + `(${value})`,
    );
  });

  it("builds URLs with url_for and urlFor keyword arguments", async () => {
    const res = await client.get("/links");
    assert.deepEqual(res.text().split("|"), [
      "/user/3",
      "/user/4",
      "/static/app.css",
      "/user/5?tab=posts",
      "http://localhost/user/6",
      "/user/7#top",
    ]);
  });

  it("gives templates request, session, g and config", async () => {
    const res = await client.get("/context", { query: { q: "tea" } });
    assert.equal(
      res.text(),
      "path=/context;q=tea;method=GET;user=ada;who=a &lt;guest&gt;;site=Carafe &amp; Co",
    );
  });

  it("uses filters added to templateEnvironment(app)", async () => {
    assert.equal((await client.get("/filters")).text(), "ADA!");
    assert.equal((await client.get("/string-filter")).text(), "QUIET!");
  });

  it("returns one environment per app", () => {
    assert.equal(templateEnvironment(app), templateEnvironment(app));
    const other = new Carafe({ rootPath: tmp });
    assert.notEqual(templateEnvironment(other), templateEnvironment(app));
  });

  it("offers every method TemplateEnvironment declares, on Nunjucks' environment", () => {
    const environment: TemplateEnvironment = templateEnvironment(new Carafe({ rootPath: tmp }));
    const twice = (n: number) => n * 2;
    assert.equal(environment.addFilter("twice", twice), environment);
    assert.equal(environment.getFilter("twice"), twice);
    assert.throws(() => environment.getFilter("thrice"), /filter not found: thrice/);
    assert.equal(environment.addGlobal("site", "Carafe"), environment);
    assert.equal(environment.getGlobal("site"), "Carafe");
    assert.throws(() => environment.getGlobal("nothing"), /global not found: nothing/);
    assert.equal(
      environment.addTest("even", (n: number) => n % 2 === 0),
      environment,
    );

    const extension = new ShoutExtension();
    assert.equal(environment.hasExtension("shout"), false);
    assert.equal(environment.getExtension("shout"), undefined);
    assert.equal(environment.addExtension("shout", extension), environment);
    assert.equal(environment.hasExtension("shout"), true);
    assert.equal(environment.getExtension("shout"), extension);
    assert.equal(
      environment.renderString("{{ 3 | twice }} {{ site }} {{ 4 is even }} {% shout 'hi' %}", {}),
      "6 Carafe true HI",
    );
    assert.equal(environment.render("escape.html", { value: "<b>" }), "[&lt;b&gt;](<b>)");
    environment.removeExtension("shout");
    assert.equal(environment.hasExtension("shout"), false);
  });

  it("keeps each app's filters to itself", async () => {
    const other = new Carafe({ rootPath: tmp });
    const errors: unknown[] = [];
    other.logger = {
      error: (_message, error) => errors.push(error),
      warn: () => {},
      info: () => {},
    };
    other.get("/", function index() {
      return renderTemplate("filters.html", { name: "ada" });
    });
    assert.equal((await other.testClient().get("/")).status, 500);
    assert.match(String((errors[0] as Error).message), /filter not found: shout/);
  });

  it("adds Vary: Cookie when a page is rendered with session data", async () => {
    const fresh = app.testClient();
    const anonymous = await fresh.get("/session-page");
    assert.deepEqual(anonymous.headers.getAll("vary"), []);
    await fresh.get("/login");
    const loggedIn = await fresh.get("/session-page");
    assert.deepEqual(loggedIn.headers.getAll("vary"), ["Cookie"]);
  });

  it("answers 500 and logs an error naming a missing template", async () => {
    logged.length = 0;
    const res = await client.get("/missing");
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text(), /does-not-exist/, "the page does not leak details");
    assert.equal(logged.length, 1);
    const error = logged[0]?.error as { code?: unknown; message?: unknown };
    assert.equal(error.code, "ERR_TEMPLATE");
    assert.match(String(error.message), /does-not-exist\.html/);
    assert.match(logged[0]?.message ?? "", /\/missing/);
  });

  it("answers 500 and logs an error naming a template with a syntax error", async () => {
    logged.length = 0;
    const res = await client.get("/broken");
    assert.equal(res.status, 500);
    assert.equal(logged.length, 1);
    assert.match(String((logged[0]?.error as Error).message), /broken\.html/);
  });

  it("throws ERR_NO_APP_CONTEXT outside an app context", () => {
    assert.throws(() => renderTemplate("base.html"), { code: "ERR_NO_APP_CONTEXT" });
    assert.throws(() => renderTemplateString("x"), { code: "ERR_NO_APP_CONTEXT" });
  });

  it("renders inside app.appContext() with config, g and url_for, without request or session", () => {
    const text = app.appContext(() => {
      g.who = "cli";
      return renderTemplateString(
        "{{ g.who }} {{ config.secretKey is defined }} {{ request is defined }} {{ session is defined }} {{ url_for('user', id=2) }}",
      );
    });
    assert.equal(text, "cli true false false /user/2");
  });

  it("renders inside app.testRequestContext()", () => {
    const text = app.testRequestContext("/somewhere?q=1", () =>
      renderTemplateString("{{ request.path }} {{ url_for('user', id=1) }}"),
    );
    assert.equal(text, "/somewhere /user/1");
  });
});

describe("renderTemplateString", () => {
  it("renders a string with the same context, globals and escaping", async () => {
    const res = await client.get("/string", { query: { name: "<b>Ada</b>" } });
    assert.equal(res.text(), "Hello &lt;b&gt;Ada&lt;/b&gt; at /string, /user/9");
  });
});

describe("the template engine", () => {
  it("is loaded on first use and leaves string methods fast for optimised code", () => {
    // V8 tells whether String.prototype is still a fast object only to --allow-natives-syntax.
    const script = [
      'import { Carafe, renderTemplateString } from "carafe";',
      "const fast = () => %HasFastProperties(String.prototype);",
      "const imported = fast();",
      "const app = new Carafe();",
      'const text = app.testRequestContext("/", () => renderTemplateString("{{ 1 + 1 }}"));',
      "console.log(JSON.stringify({ imported, text, rendered: fast() }));",
    ].join("\n");
    const output = execFileSync(
      process.execPath,
      [
        "--allow-natives-syntax",
        "--conditions=carafe-source",
        "--import",
        "tsx",
        "--input-type=module",
        "--eval",
        script,
      ],
      { encoding: "utf8" },
    );
    assert.deepEqual(JSON.parse(output), { imported: true, text: "2", rendered: true });
  });
});
