// The integrations' public names.

export { renderTemplate, renderTemplateString, templateEnvironment } from "./templates.ts";
