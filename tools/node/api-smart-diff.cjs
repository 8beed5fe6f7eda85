// Runs api-smart-diff over two OpenAPI documents (JSON files) and prints its
// findings as one JSON array of {type, action, path, description}.
// Usage: node api-smart-diff.cjs BASE.json HEAD.json
// `cargo xtask spec-diff-compare` copies this file into target/node, next to
// the node_modules that `npm ci` installed from tools/node/package-lock.json.
'use strict';
const fs = require('fs');
const { apiCompare } = require('api-smart-diff');

const [basePath, headPath] = process.argv.slice(2);
if (!basePath || !headPath) {
  console.error('usage: node api-smart-diff.cjs BASE.json HEAD.json');
  process.exit(2);
}
const read = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
const { diffs } = apiCompare(read(basePath), read(headPath));
const findings = diffs.map((d) => ({
  type: d.type,
  action: d.action,
  path: d.path.map(String).join('/'),
  description: d.description || '',
}));
process.stdout.write(JSON.stringify(findings) + '\n');
