// SPDX-License-Identifier: Apache-2.0
// sarif_validate.js PREFIX FILE...: validate SARIF documents against the
// SARIF 2.1.0 JSON schema (from the npm package @microsoft/jest-sarif,
// installed under PREFIX by tests/e2e/lib.sh's require_sarif_validator, with
// ajv), then check what GitHub code scanning needs beyond the schema: every
// rule has shortDescription, fullDescription, help and helpUri; every result
// names a rule of the run, has a level, a message, a location with a URI and
// partialFingerprints. Exits 1 and prints each problem when a file fails.
'use strict';
const fs = require('fs');
const path = require('path');
const [prefix, ...files] = process.argv.slice(2);
const mod = (p) => require(path.join(prefix, 'node_modules', p));
const Ajv = mod('ajv');
const schema = mod('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
const ajv = new Ajv({ schemaId: 'auto', validateSchema: false, allErrors: true });
ajv.addMetaSchema(mod('ajv/lib/refs/json-schema-draft-04.json'));
const validate = ajv.compile(schema);

let bad = 0;
const problem = (f, msg) => { console.error(`${f}: ${msg}`); bad++; };
for (const f of files) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch (e) {
    problem(f, `not JSON: ${e.message}`);
    continue;
  }
  if (!validate(doc))
    for (const e of validate.errors.slice(0, 20))
      problem(f, `schema: ${e.dataPath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
  if (doc.version !== '2.1.0') problem(f, `version ${doc.version}`);
  for (const [ri, run] of (doc.runs || []).entries()) {
    const rules = (run.tool && run.tool.driver && run.tool.driver.rules) || [];
    const ids = new Set();
    for (const r of rules) {
      if (ids.has(r.id)) problem(f, `run ${ri}: rule ${r.id} twice`);
      ids.add(r.id);
      for (const k of ['shortDescription', 'fullDescription', 'help'])
        if (!r[k] || typeof r[k].text !== 'string' || !r[k].text)
          problem(f, `rule ${r.id}: no ${k}.text`);
      if (!/^https:\/\//.test(r.helpUri || '')) problem(f, `rule ${r.id}: no helpUri`);
    }
    for (const [i, res] of (run.results || []).entries()) {
      const where = `run ${ri} result ${i} (${res.ruleId})`;
      if (!ids.has(res.ruleId)) problem(f, `${where}: ruleId not among the rules`);
      if (rules[res.ruleIndex] === undefined || rules[res.ruleIndex].id !== res.ruleId)
        problem(f, `${where}: ruleIndex ${res.ruleIndex} does not name it`);
      if (!['error', 'warning', 'note'].includes(res.level)) problem(f, `${where}: level ${res.level}`);
      if (!res.message || !res.message.text) problem(f, `${where}: no message.text`);
      const loc = res.locations && res.locations[0];
      if (!loc || !loc.physicalLocation || !loc.physicalLocation.artifactLocation ||
          !loc.physicalLocation.artifactLocation.uri)
        problem(f, `${where}: no artifact location`);
      if (!res.partialFingerprints || !Object.keys(res.partialFingerprints).length)
        problem(f, `${where}: no partialFingerprints`);
    }
  }
}
if (bad) process.exit(1);
console.log(`sarif: ${files.length} document(s) valid against the SARIF 2.1.0 schema`);
