// Starts `circuitcheck lsp` for .circuit files. Highlighting comes from the TextMate
// grammar alone, so it works without the executable.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("circuitcheck").get("path", "circuitcheck");
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "circuitcheck",
    "circuitcheck",
    { run: server, debug: server },
    { documentSelector: [{ language: "circuit" }] },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
