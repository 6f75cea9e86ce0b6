// Context processors, template filters, globals and tests registered on the app and on
// blueprints, and flashed messages read by templates: real template files, through the client.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Blueprint,
  Carafe,
  flash,
  redirect,
  renderTemplate,
  renderTemplateString,
  request,
  templateEnvironment,
} from "carafe";
import { captureLogs } from "../helpers.ts";

const TEMPLATES: Record<string, string> = {
  // Flaskr's layout: the flashed messages above the page's content.
  "base.html":
    "{% for message in get_flashed_messages() %}<div class=flash>{{ message }}</div>{% endfor %}" +
    "{% block content %}{% endblock %}",
  "page.html":
    '{% extends "base.html" %}{% block content %}' +
    "{% for category, message in get_flashed_messages(with_categories=true) %}" +
    "[{{ category }}:{{ message }}]{% endfor %}{% endblock %}",
  "errors.html":
    "{% for message in get_flashed_messages(category_filter=['error']) %}" +
    "<p class=error>{{ message }}</p>{% endfor %}" +
    "|{{ get_flashed_messages(true, 'info') | length }}",
  "context.html": "{{ site }}|{{ section }}|{{ path }}|{{ title }}",
  "functions.html":
    "{{ 'tea' | shout }}|{{ 'tea' | reverse_text }}|{{ greet('Ada') }}|{{ greeting(name='Bo') }}|" +
    "{% if 7 is odd_number %}odd{% endif %}{% if 8 is odd_number %}!{% endif %}",
  "blueprint.html": "{{ 'x' | wrap }}|{{ answer() }}|{% if 3 is small %}small{% endif %}|{{ who }}",
};

let tmp: string;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "carafe-template-hooks-"));
  mkdirSync(join(tmp, "templates"));
  for (const [name, source] of Object.entries(TEMPLATES)) {
    writeFileSync(join(tmp, "templates", name), source);
  }
});

after(() => rmSync(tmp, { recursive: true, force: true }));

const newApp = (): Carafe => new Carafe({ rootPath: tmp, secretKey: "s3cret", staticFolder: null });

describe("get_flashed_messages in templates", () => {
  function flashingApp(): Carafe {
    const app = newApp();
    app.post("/flash", function flashed(req) {
      for (const each of req.form.getAll("flash")) {
        const [category = "", message = ""] = each.split(":");
        flash(message, category);
      }
      return redirect("/page");
    });
    app.get("/page", () => renderTemplate("page.html"));
    app.get("/errors", () => renderTemplate("errors.html"));
    return app;
  }

  it("shows a message flashed before a redirect, in the layout and the page alike", async () => {
    const client = flashingApp().testClient();
    const posted = await client.post("/flash", {
      form: { flash: ["message:Registered <you>", "error:Bad password"] },
    });
    assert.equal(posted.status, 302);
    assert.equal(
      (await client.get("/page")).text(),
      "<div class=flash>Registered &lt;you&gt;</div><div class=flash>Bad password</div>" +
        "[message:Registered &lt;you&gt;][error:Bad password]",
    );
    assert.equal((await client.get("/page")).text(), "", "shown once");
  });

  it("filters by category, by keyword or by position", async () => {
    const client = flashingApp().testClient();
    await client.post("/flash", { form: { flash: ["error:One", "info:Two", "error:Three"] } });
    assert.equal(
      (await client.get("/errors")).text(),
      "<p class=error>One</p><p class=error>Three</p>|1",
    );
  });

  it("refuses a category filter that is not a list of names", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.get("/", () => renderTemplateString("{{ get_flashed_messages(category_filter=3) }}"));
    assert.equal((await app.testClient().get("/")).status, 500);
    assert.match(String((errors[0]?.error as Error).message), /list of categories/);
  });
});

describe("contextProcessor", () => {
  it("merges what app and blueprint processors return, the render's own values last", async () => {
    const app = newApp();
    let calls = 0;
    app.contextProcessor(() => {
      calls += 1;
      return { site: "Flaskr", section: "home", path: request.path, title: "processor" };
    });
    const blog = new Blueprint("blog", { urlPrefix: "/blog" });
    blog.contextProcessor(() => ({ section: "blog" }));
    blog.get("/", function index() {
      return renderTemplate("context.html", { title: "given" });
    });
    app.get("/", function index() {
      return renderTemplate("context.html");
    });
    app.registerBlueprint(blog);
    const client = app.testClient();
    assert.equal((await client.get("/")).text(), "Flaskr|home|/|processor");
    assert.equal((await client.get("/blog/")).text(), "Flaskr|blog|/blog/|given");
    assert.equal(calls, 2, "run at each render");
  });

  it("runs the app's processors for a render in an app context without a request", () => {
    const app = newApp();
    app.contextProcessor(() => ({ site: "Flaskr", section: "cli", path: "-" }));
    const text = app.appContext(() => renderTemplate("context.html", { title: "email" }));
    assert.equal(text, "Flaskr|cli|-|email");
  });

  it("applies a blueprint's appContextProcessor to every request of the app", async () => {
    const app = newApp();
    const auth = new Blueprint("auth");
    auth.appContextProcessor(() => ({ section: "from auth" }));
    app.get("/", () => renderTemplate("context.html"));
    app.registerBlueprint(auth);
    assert.equal((await app.testClient().get("/")).text(), "|from auth||");
  });

  it("refuses a processor that returns a promise, saying to use g", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.contextProcessor(async function loadUser() {
      return { user: "ada" };
    } as unknown as () => Record<string, unknown>);
    app.get("/", () => renderTemplate("context.html"));
    assert.equal((await app.testClient().get("/")).status, 500);
    const error = errors[0]?.error as { code?: string; message?: string };
    assert.equal(error.code, "ERR_BAD_CONTEXT_PROCESSOR");
    assert.match(error.message ?? "", /loadUser returned a promise.*synchronously.*\bg\b/);
  });

  it("refuses a processor that returns no object", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.contextProcessor((() => undefined) as unknown as () => Record<string, unknown>);
    app.get("/", () => renderTemplate("context.html"));
    assert.equal((await app.testClient().get("/")).status, 500);
    assert.match(String((errors[0]?.error as Error).message), /plain object/);
  });
});

describe("templateFilter, templateGlobal and templateTest", () => {
  it("add functions under their own name or the one given", async () => {
    const app = newApp();
    app.templateFilter("shout", (text: string) => `${text.toUpperCase()}!`);
    app.templateFilter(function reverse_text(text: string) {
      return [...text].reverse().join("");
    });
    app.templateGlobal(function greet(name: string) {
      return `Hello ${name}`;
    });
    // Keyword arguments arrive as the last argument, an object.
    app.templateGlobal("greeting", (options: { name: string }) => `Hi ${options.name}`);
    app.templateTest("odd_number", (n: number) => n % 2 === 1);
    app.get("/", () => renderTemplate("functions.html"));
    assert.equal((await app.testClient().get("/")).text(), "TEA!|aet|Hello Ada|Hi Bo|odd");
  });

  it("add a blueprint's appTemplate* functions to the app's templates", async () => {
    const app = newApp();
    const ui = new Blueprint("ui");
    ui.appTemplateFilter("wrap", (text: string) => `(${text})`);
    ui.appTemplateGlobal(function answer() {
      return 42;
    });
    ui.appTemplateTest(function small(n: number) {
      return n < 5;
    });
    app.get("/", () => renderTemplate("blueprint.html", { who: "app" }));
    app.registerBlueprint(ui);
    assert.equal((await app.testClient().get("/")).text(), "(x)|42|small|app");
  });

  it("reach an environment made before they were registered", async () => {
    const app = newApp();
    const environment = templateEnvironment(app);
    app.templateFilter("shout", (text: string) => text.toUpperCase());
    app.get("/", () => renderTemplateString("{{ 'late' | shout }}"));
    assert.equal((await app.testClient().get("/")).text(), "LATE");
    assert.equal(templateEnvironment(app), environment);
  });

  it("keep each app's functions to itself", async () => {
    const one = newApp();
    one.templateGlobal("name", () => "one");
    one.get("/", () => renderTemplateString("{{ name() }}"));
    const two = newApp();
    two.templateGlobal("name", () => "two");
    two.get("/", () => renderTemplateString("{{ name() }}"));
    assert.equal((await one.testClient().get("/")).text(), "one");
    assert.equal((await two.testClient().get("/")).text(), "two");
  });

  it("refuse a nameless function, a bad name and registration once serving", async () => {
    const app = newApp();
    assert.throws(
      () =>
        app.templateFilter(
          (
            () => (text: string) =>
              text
          )(),
        ),
      {
        code: "ERR_BAD_TEMPLATE_HOOK",
        message: /templateFilter\(\): the function has no name; pass one first/,
      },
    );
    assert.throws(() => app.templateGlobal("not a name", () => 1), {
      code: "ERR_BAD_TEMPLATE_HOOK",
      message: /"not a name" is not a name a template can use/,
    });
    assert.throws(() => app.templateTest("t", 3 as unknown as () => boolean), {
      code: "ERR_BAD_TEMPLATE_HOOK",
      message: /expected a function/,
    });
    const bp = new Blueprint("bp");
    assert.throws(() => bp.appTemplateFilter("", (x: string) => x), {
      code: "ERR_BAD_TEMPLATE_HOOK",
      message: /appTemplateFilter\(\): the function has no name/,
    });
    assert.throws(() => bp.appContextProcessor(null as unknown as () => Record<string, unknown>), {
      code: "ERR_BAD_TEMPLATE_HOOK",
    });
    app.get("/", () => "ok");
    await app.testClient().get("/");
    assert.throws(() => app.templateFilter("late", (x: string) => x), {
      code: "ERR_SETUP_FINISHED",
    });
    assert.throws(() => app.contextProcessor(() => ({})), { code: "ERR_SETUP_FINISHED" });
  });
});
