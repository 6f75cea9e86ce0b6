// The integrations' public names.

export {
  renderTemplate,
  renderTemplateString,
  templateEnvironment,
  type TemplateEnvironment,
  type TemplateExtension,
} from "./templates.ts";
