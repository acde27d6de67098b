// Validates every document of Kubernetes YAML against the API schemas of the
// kubernetes-models packages. Usage: node validate.mjs FILE|- ...
// Prints one line per document; exits 1 if any is invalid or of an unknown kind.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

let failures = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length) {
      console.log(`invalid YAML in ${file}: ${document.errors[0].message}`);
      failures++;
      continue;
    }
    const object = document.toJS();
    if (!object) continue;
    const { apiVersion, kind } = object;
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
    const module = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
    const name = `${kind} ${object.metadata?.name ?? "(no name)"}`;
    try {
      const models = await import(module);
      new (models[kind] ?? models.default)(object).validate();
      console.log(`valid ${apiVersion} ${name}`);
    } catch (error) {
      console.log(`invalid ${apiVersion} ${name}: ${error.message}`);
      failures++;
    }
  }
}
process.exit(failures ? 1 : 0);
