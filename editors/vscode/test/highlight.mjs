// Tokenizes test/sample.circuit with VS Code's own TextMate engine (vscode-textmate and
// the Oniguruma regex library) and checks the scope of every kind of token.
//   cd editors/vscode && npm install && npm run test-grammar
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import textmate from "vscode-textmate";
import oniguruma from "vscode-oniguruma";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const wasm = readFileSync(join(dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
await oniguruma.loadWASM(wasm.buffer);

const registry = new textmate.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (text) => new oniguruma.OnigString(text),
  }),
  loadGrammar: async () =>
    textmate.parseRawGrammar(
      readFileSync(join(here, "..", "syntaxes", "circuit.tmLanguage.json"), "utf8"),
      "circuit.tmLanguage.json",
    ),
});
const grammar = await registry.loadGrammar("source.circuit");

// Every token of the sample: [line number, text, innermost scope].
const tokens = [];
let state = textmate.INITIAL;
readFileSync(join(here, "sample.circuit"), "utf8")
  .split("\n")
  .forEach((line, number) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      const text = line.slice(token.startIndex, token.endIndex);
      if (text.trim()) tokens.push([number + 1, text, token.scopes.at(-1)]);
    }
    state = result.ruleStack;
  });

// [line, token text, scope it must have]
const expected = [
  [1, "#", "punctuation.definition.comment.circuit"],
  [1, " Every construct of the language (grammar/GRAMMAR.md), for the highlighting tests.", "comment.line.number-sign.circuit"],
  [2, "circuit", "keyword.other.circuit.circuit"],
  [2, "sample", "entity.name.type.circuit.circuit"],
  [2, "extends", "keyword.other.extends.circuit"],
  [2, "ioi.circuit", "string.quoted.double.circuit"],
  [2, " a variant", "comment.line.number-sign.circuit"],
  [3, "model", "variable.parameter.setting.circuit"],
  [3, "gpt2-small", "string.unquoted.setting-value.circuit"],
  [4, "task", "variable.parameter.setting.circuit"],
  [4, "ioi", "string.unquoted.setting-value.circuit"],
  [5, "ablation", "variable.parameter.setting.circuit"],
  [5, "global-mean", "constant.language.ablation.circuit"],
  [6, "level", "variable.parameter.setting.circuit"],
  [6, "edge", "constant.language.level.circuit"],
  [7, "}", "punctuation.section.block.end.circuit"],
  [9, "remove", "keyword.other.statement.circuit"],
  [9, "class", "keyword.other.class.circuit"],
  [9, "backup_name_mover", "entity.name.type.class.circuit"],
  [10, "head", "keyword.other.circuit"],
  [10, "10", "constant.numeric.head.circuit"],
  [10, ".", "punctuation.separator.head.circuit"],
  [11, "edge", "keyword.other.statement.circuit"],
  [11, "->", "keyword.operator.arrow.circuit"],
  [11, "q", "storage.modifier.channel.circuit"],
  [12, "expect", "keyword.other.expect.circuit"],
  [12, "faithfulness", "support.function.metric.circuit"],
  [12, ">=", "keyword.operator.comparison.circuit"],
  [15, "mlp", "keyword.other.statement.circuit"],
  [15, "0", "constant.numeric.layer.circuit"],
  [15, "at", "keyword.other.at.circuit"],
  [15, "all", "constant.language.all.circuit"],
  [16, "all", "constant.language.circuit"],
  [16, "END", "variable.other.enummember.position.circuit"],
  [17, "S2", "variable.other.enummember.position.circuit"],
  [17, ",", "punctuation.separator.comma.circuit"],
  [18, "none", "constant.language.circuit"],
  [20, "induction", "entity.name.type.class.circuit"],
  [20, "Induction ", "string.quoted.double.circuit"],
  [20, "\\\"", "constant.character.escape.circuit"],
  [20, "\\\\", "constant.character.escape.circuit"],
  [20, "{", "punctuation.section.block.begin.circuit"],
  [20, "5", "constant.numeric.head.circuit"],
  [21, "S1+1", "variable.other.enummember.position.circuit"],
  [22, "all", "constant.language.all.circuit"],
  [24, "add", "keyword.other.statement.circuit"],
  [24, "to", "keyword.other.circuit"],
  [24, "name_mover", "entity.name.type.class.circuit"],
  [26, "embed", "support.constant.node.circuit"],
  [26, "k", "storage.modifier.channel.circuit"],
  [27, "previous_token", "entity.name.type.class.circuit"],
  [27, "v", "storage.modifier.channel.circuit"],
  [29, "logits", "support.constant.node.circuit"],
  [31, "minimality", "keyword.other.statement.circuit"],
  [31, "given", "keyword.other.circuit"],
  [33, "0.8", "constant.numeric.circuit"],
  [34, "faithfulness_gap", "support.function.metric.circuit"],
  [34, "<=", "keyword.operator.comparison.circuit"],
  [35, "normalized_faithfulness", "support.function.metric.circuit"],
  [35, ">", "keyword.operator.comparison.circuit"],
  [35, "-0.5", "constant.numeric.circuit"],
  [36, "incompleteness", "support.function.metric.circuit"],
  [36, "<", "keyword.operator.comparison.circuit"],
  [37, "minimality", "support.function.metric.circuit"],
  [37, "(", "punctuation.section.parens.circuit"],
  [37, "9", "constant.numeric.head.circuit"],
  [38, "minimality", "support.function.metric.circuit"],
];

let failures = 0;
for (const [line, text, scope] of expected) {
  const found = tokens.filter(([l, t]) => l === line && t === text);
  if (!found.some(([, , s]) => s === scope)) {
    failures += 1;
    const got = found.map(([, , s]) => s).join(", ") || "no such token";
    console.error(`line ${line}: \`${text}\` should be ${scope}, is ${got}`);
  }
}
if (process.argv.includes("--print")) {
  for (const [line, text, scope] of tokens) console.log(`${line}\t${JSON.stringify(text)}\t${scope}`);
}
console.log(failures ? `${failures} of ${expected.length} checks failed` : `all ${expected.length} checks passed`);
process.exit(failures ? 1 : 0);
