// The posts: everyone reads them; their author creates, edits and deletes them.
import { Blueprint, abort, flash, g, redirect, renderTemplate, urlFor } from "carafe";
import { loginRequired } from "./auth.ts";
import { getDb } from "./db.ts";

export interface Post {
  id: number;
  title: string;
  body: string;
  created: Date;
  author_id: number;
  username: string;
}

export const bp = new Blueprint("blog");

const POSTS =
  "SELECT p.id, title, body, created, author_id, username FROM post p JOIN user u ON p.author_id = u.id";

/** A row as a Post: SQLite keeps timestamps as `YYYY-MM-DD HH:MM:SS` text in UTC. */
function toPost(row: Record<string, unknown>): Post {
  return { ...row, created: new Date(`${String(row["created"]).replace(" ", "T")}Z`) } as Post;
}

bp.get("/", function index() {
  const posts = getDb().all(`${POSTS} ORDER BY created DESC`).map(toPost);
  return renderTemplate("blog/index.html", { posts });
});

/** The post `id`: 404 if there is none, 403 if `checkAuthor` and the user did not write it. */
function getPost(id: number, checkAuthor = true): Post {
  const row = getDb().get(`${POSTS} WHERE p.id = ?`, [id]);
  if (row === null) abort(404, `Post id ${id} doesn't exist.`);
  const post = toPost(row);
  if (checkAuthor && post.author_id !== g.user?.id) abort(403);
  return post;
}

bp.route(
  "/create",
  { methods: ["GET", "POST"] },
  loginRequired(function create(req) {
    if (req.method === "POST") {
      const title = req.form.require("title");
      const body = req.form.require("body");
      if (!title) flash("Title is required.");
      else {
        getDb().run("INSERT INTO post (title, body, author_id) VALUES (?, ?, ?)", [
          title,
          body,
          g.user?.id ?? null,
        ]);
        return redirect(urlFor("blog.index"));
      }
    }
    return renderTemplate("blog/create.html");
  }),
);

bp.route(
  "/<int:id>/update",
  { methods: ["GET", "POST"] },
  loginRequired(function update(req) {
    const post = getPost(req.params.id);
    if (req.method === "POST") {
      const title = req.form.require("title");
      const body = req.form.require("body");
      if (!title) flash("Title is required.");
      else {
        getDb().run("UPDATE post SET title = ?, body = ? WHERE id = ?", [title, body, post.id]);
        return redirect(urlFor("blog.index"));
      }
    }
    return renderTemplate("blog/update.html", { post });
  }),
);

// `delete` is a reserved word in JavaScript, so the endpoint is named rather than inferred.
bp.post(
  "/<int:id>/delete",
  { endpoint: "delete" },
  loginRequired(function deletePost(req) {
    getPost(req.params.id);
    getDb().run("DELETE FROM post WHERE id = ?", [req.params.id]);
    return redirect(urlFor("blog.index"));
  }),
);
