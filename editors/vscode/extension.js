// The marginlex extension: starts `marginlex lsp` over stdio for every .mlx file.
// Highlighting comes from syntaxes/mlx.tmLanguage.json; everything else (diagnostics,
// quick fixes, hover, definition, references, outline, completion, formatting) from the
// server, which uses the same checker and formatter as `marginlex check` and `fmt`.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("marginlex");
  const command = config.get("server.command", "marginlex");
  const args = config.get("server.args", ["lsp"]);
  const serverOptions = { command, args };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "mlx" }],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.mlx"),
    },
  };
  client = new LanguageClient("marginlex", "marginlex", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
