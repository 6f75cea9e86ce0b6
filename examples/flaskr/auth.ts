// Registering, logging in and out, the current user on `g.user`, and `loginRequired`.
import {
  Blueprint,
  type Handler,
  flash,
  g,
  redirect,
  renderTemplate,
  session,
  urlFor,
  wraps,
} from "carafe";
import { checkPasswordHash, generatePasswordHash } from "carafe/security";
import { getDb } from "./db.ts";

export interface User {
  id: number;
  username: string;
  password: string;
}

declare module "carafe" {
  interface AppGlobals {
    user?: User | null;
  }
  interface SessionData {
    userId?: number;
  }
}

export const bp = new Blueprint("auth", { urlPrefix: "/auth" });

/** Sends anonymous users to the login page instead of running `view`. */
export function loginRequired<R extends string>(view: Handler<R>): Handler<R> {
  return wraps((req) => (g.user ? view(req) : redirect(urlFor("auth.login"))), view);
}

bp.beforeAppRequest(function loadLoggedInUser() {
  const userId = session.get("userId");
  g.user =
    userId === undefined
      ? null
      : (getDb().get("SELECT * FROM user WHERE id = ?", [userId]) as User | null);
});

bp.route("/register", { methods: ["GET", "POST"] }, function register(req) {
  if (req.method === "POST") {
    const username = req.form.require("username");
    const password = req.form.require("password");
    let error: string | undefined;
    if (!username) error = "Username is required.";
    else if (!password) error = "Password is required.";
    else {
      try {
        getDb().run("INSERT INTO user (username, password) VALUES (?, ?)", [
          username,
          generatePasswordHash(password),
        ]);
        return redirect(urlFor("auth.login"));
      } catch (e) {
        if (!String(e).includes("UNIQUE constraint failed")) throw e;
        error = `User ${username} is already registered.`;
      }
    }
    flash(error);
  }
  return renderTemplate("auth/register.html");
});

bp.route("/login", { methods: ["GET", "POST"] }, function login(req) {
  if (req.method === "POST") {
    const username = req.form.require("username");
    const password = req.form.require("password");
    const user = getDb().get("SELECT * FROM user WHERE username = ?", [username]) as User | null;
    let error: string | undefined;
    if (user === null) error = "Incorrect username.";
    else if (!checkPasswordHash(user.password, password)) error = "Incorrect password.";
    else {
      session.clear();
      session.set("userId", user.id);
      return redirect(urlFor("index"));
    }
    flash(error);
  }
  return renderTemplate("auth/login.html");
});

bp.get("/logout", function logout() {
  session.clear();
  return redirect(urlFor("index"));
});
