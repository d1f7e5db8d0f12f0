// Evaluates GitHub Actions expressions with GitHub's own evaluator (@actions/expressions), for the
// workflow tests: stdin is JSON {"expression": "...", "as": "boolean" | "text", "cases": [contexts]}
// (each case maps context names such as `github` and `vars` to their JSON values); stdout is the
// JSON list of results, one per case: a boolean as a job-level `if:` decides, or the text.
import { Evaluator, Lexer, Parser, data } from "@actions/expressions";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { expression, as, cases } = JSON.parse(input);
const names = ["github", "vars", "inputs", "env", "secrets", "needs", "steps", "job", "runner"];
// `!!(...)`: the evaluator's own truthiness, as a job-level `if:` applies it
const source = as === "boolean" ? `!!(${expression})` : expression;
const expr = new Parser(new Lexer(source).lex().tokens, names, []).parse();
const results = cases.map((contexts) => {
  const context = JSON.parse(JSON.stringify(contexts), data.reviver);
  const text = new Evaluator(expr, context).evaluate().coerceString();
  return as === "boolean" ? text === "true" : text;
});
process.stdout.write(JSON.stringify(results));
