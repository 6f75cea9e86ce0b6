// carafe/security: Werkzeug's password hashes (werkzeug.security), so that a user table moves
// from Flask unchanged. See docs/flask-to-carafe.md.

export {
  checkPasswordHash,
  checkPasswordHashAsync,
  generatePasswordHash,
  generatePasswordHashAsync,
} from "./password-hash.ts";
