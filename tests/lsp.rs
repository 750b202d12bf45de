//! `circuitcheck lsp`, driven as an editor drives it: the real binary, JSON-RPC over its
//! stdin and stdout, files in a temporary directory. Every answer is compared in full.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use lsp_types::Url;
use serde_json::{Value, json};

/// How long any answer may take before the test calls the server hung.
const PATIENCE: Duration = Duration::from_secs(30);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Notifications that arrived while waiting for something else.
    pending: Vec<Value>,
    next_id: i64,
}

impl Client {
    /// Starts the server and goes through the handshake, as VS Code does (it shows
    /// related information).
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_circuitcheck"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            while let Some(message) = read_message(&mut stdout) {
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            pending: Vec::new(),
            next_id: 0,
        };
        let root = Url::from_file_path(root).unwrap();
        let capabilities = json!({
            "textDocument": { "publishDiagnostics": { "relatedInformation": true } }
        });
        let answer = client.result(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": capabilities }),
        );
        assert_eq!(answer["serverInfo"]["name"], "circuitcheck");
        assert_eq!(answer["capabilities"]["positionEncoding"], "utf-16");
        client.notify("initialized", json!({}));
        client
    }

    fn send_raw(&mut self, body: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(body).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        let message = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.send_raw(message.to_string().as_bytes());
    }

    /// The whole response: `result` or `error`.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(message.to_string().as_bytes());
        self.response(json!(id))
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The response with this id; notifications on the way are kept for later.
    fn response(&mut self, id: Value) -> Value {
        loop {
            let message = self.next_message();
            if message.get("method").is_none() && message["id"] == id {
                return message;
            }
            self.pending.push(message);
        }
    }

    fn next_message(&mut self) -> Value {
        self.incoming
            .recv_timeout(PATIENCE)
            .expect("the server answers in time")
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &Url) -> Value {
        let is_for = |message: &Value| {
            message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri.as_str()
        };
        if let Some(i) = self.pending.iter().position(is_for) {
            return self.pending.remove(i)["params"]["diagnostics"].clone();
        }
        loop {
            let message = self.next_message();
            if is_for(&message) {
                return message["params"]["diagnostics"].clone();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, uri: &Url, text: &str) {
        let document = json!({ "uri": uri, "languageId": "circuit", "version": 1, "text": text });
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn change(&mut self, uri: &Url, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "text": text }],
            }),
        );
    }

    /// Shuts the server down as an editor does, and returns its exit code.
    fn shut_down(mut self) -> i32 {
        assert_eq!(self.request("shutdown", Value::Null)["result"], Value::Null);
        self.notify("exit", Value::Null);
        self.exit_code()
    }

    fn exit_code(mut self) -> i32 {
        drop(self.stdin.take());
        self.child.wait().unwrap().code().expect("exited")
    }
}

fn read_message(stdout: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = Some(value.parse::<usize>().unwrap());
        }
    }
    let mut body = vec![0; length?];
    stdout.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap())
}

fn uri(path: &Path) -> Url {
    Url::from_file_path(path).unwrap()
}

fn at(uri: &Url, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({
        "start": { "line": start.0, "character": start.1 },
        "end": { "line": end.0, "character": end.1 },
    })
}

fn location(uri: &Url, start: (u32, u32), end: (u32, u32)) -> Value {
    json!({ "uri": uri, "range": range(start, end) })
}

const BASE: &str = "\
circuit base {
  model toy-induction
  task induction
}

class prev \"Previous Token Heads\" at B1 { 0.1 }
class copier at A2 { 1.2 }

edge prev -> copier.k
edge copier -> logits
";

const VARIANT: &str = "\
circuit variant extends \"base.circuit\" {
}

class extra at END { 1.3 }
add 0.2 to prev
edge prev -> extra.k
edge extra -> logits
";

/// A second variant of the base, in a subdirectory and never opened.
const OTHER: &str = "\
circuit other extends \"../base.circuit\" {
}

remove class prev
";

/// Its own class `prev`, which has nothing to do with the base's.
const UNRELATED: &str = "\
circuit unrelated {
  model toy-induction
  task induction
}

class prev at B1 { 0.2 }
";

/// The base, its variants and an unrelated file on disk.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (name, text) in [
        ("base.circuit", BASE),
        ("variant.circuit", VARIANT),
        ("sub/other.circuit", OTHER),
        ("unrelated.circuit", UNRELATED),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn diagnostics_follow_the_buffers_and_the_bases_of_variants() {
    let dir = tempfile::tempdir().unwrap();
    // On disk, the base has an unknown position.
    std::fs::write(
        dir.path().join("base.circuit"),
        BASE.replace("at B1", "at B9"),
    )
    .unwrap();
    let base = uri(&dir.path().join("base.circuit"));
    let variant = uri(&dir.path().join("variant.circuit"));
    let mut client = Client::start(dir.path());

    // Opening the variant reports its base's problem too, in the base.
    client.open(&variant, VARIANT);
    let unknown_position = json!({
        "range": range((5, 37), (5, 39)),
        "severity": 1,
        "code": "circuit::unknown-position",
        "source": "circuitcheck",
        "message": "task `induction` has no position `B9`\nhelp: did you mean `B1`? task `induction` names the positions X1, A1, B1, A2 and END, or use `all`",
        "relatedInformation": [
            { "location": location(&base, (5, 37), (5, 39)), "message": "unknown position" }
        ],
    });
    assert_eq!(client.diagnostics(&base), json!([unknown_position]));
    assert_eq!(
        client.diagnostics(&variant),
        json!([{
            "range": range((0, 24), (0, 38)),
            "severity": 1,
            "code": "circuit::extends-invalid",
            "source": "circuitcheck",
            "message": "cannot extend `base.circuit`: it has errors\nhelp: fix the errors reported for that file first",
            "relatedInformation": [
                { "location": location(&variant, (0, 24), (0, 38)), "message": "this file has errors" }
            ],
        }])
    );

    // The open buffer of the base wins over the disk. Columns count UTF-16 units: `é` and
    // `—` are one unit each but two and three bytes.
    let broken = BASE
        .replace("Previous Token Heads", "Prévious — heads")
        .replace("at B1", "at B9")
        .replace("{ 1.2 }", "{ 1.2 0.1 }");
    client.open(&base, &broken);
    assert_eq!(
        client.diagnostics(&base),
        json!([
            {
                "range": range((5, 33), (5, 35)),
                "severity": 1,
                "code": "circuit::unknown-position",
                "source": "circuitcheck",
                "message": "task `induction` has no position `B9`\nhelp: did you mean `B1`? task `induction` names the positions X1, A1, B1, A2 and END, or use `all`",
                "relatedInformation": [
                    { "location": location(&base, (5, 33), (5, 35)), "message": "unknown position" }
                ],
            },
            {
                "range": range((6, 25), (6, 28)),
                "severity": 1,
                "code": "circuit::duplicate-head",
                "source": "circuitcheck",
                "message": "head 0.1 is listed twice\nhelp: a head belongs to exactly one class",
                "relatedInformation": [
                    { "location": location(&base, (6, 25), (6, 28)), "message": "already in class `prev`" },
                    { "location": location(&base, (5, 38), (5, 41)), "message": "first listed here" },
                ],
            },
        ])
    );

    // Fixing the base's buffer clears both files.
    client.change(&base, 2, BASE);
    assert_eq!(client.diagnostics(&base), json!([]));
    assert_eq!(client.diagnostics(&variant), json!([]));

    // A warning keeps its severity.
    client.change(&variant, 2, &VARIANT.replace("edge extra -> logits\n", ""));
    assert_eq!(
        client.diagnostics(&variant),
        json!([{
            "range": range((3, 6), (3, 11)),
            "severity": 2,
            "code": "circuit::unreachable",
            "source": "circuitcheck",
            "message": "class `extra` cannot reach the logits\nhelp: add an edge from `extra` towards `logits`, or remove the class",
            "relatedInformation": [
                { "location": location(&variant, (3, 6), (3, 11)), "message": "no path of edges from here to `logits`" }
            ],
        }])
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn formatting_is_fmt_as_one_edit() {
    let dir = workspace();
    let variant = uri(&dir.path().join("variant.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&variant, VARIANT);
    let format = json!({
        "textDocument": { "uri": variant },
        "options": { "tabSize": 2, "insertSpaces": true },
    });
    let canonical = "\
circuit variant extends \"base.circuit\" {
}

class extra at END { 1.3 }

add 0.2 to prev

edge extra -> logits
edge prev -> extra.k
";
    assert_eq!(
        client.result("textDocument/formatting", format.clone()),
        json!([{ "range": range((0, 0), (7, 0)), "newText": canonical }])
    );
    // Already canonical: nothing to do.
    client.change(&variant, 2, canonical);
    assert_eq!(
        client.result("textDocument/formatting", format.clone()),
        json!([])
    );
    // A syntax error: left as it is.
    client.change(&variant, 3, "circuit variant extends {\n");
    assert_eq!(client.result("textDocument/formatting", format), json!([]));
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn hover_tells_a_heads_class_and_a_positions_definition() {
    let dir = workspace();
    let base = uri(&dir.path().join("base.circuit"));
    let variant = uri(&dir.path().join("variant.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&base, BASE);
    client.open(&variant, VARIANT);
    let markdown = |value: &str, start, end| json!({ "contents": { "kind": "markdown", "value": value }, "range": range(start, end) });
    // A head of the file's own class, on its first character.
    assert_eq!(
        client.result("textDocument/hover", at(&base, 5, 42)),
        markdown(
            "head **0.1** in class **prev** at B1\n\nPrevious Token Heads",
            (5, 42),
            (5, 45)
        )
    );
    // A head the variant adds to a class of its base, with the cursor just after it.
    assert_eq!(
        client.result("textDocument/hover", at(&variant, 4, 7)),
        markdown(
            "head **0.2** in class **prev** at B1\n\nPrevious Token Heads",
            (4, 4),
            (4, 7)
        )
    );
    assert_eq!(
        client.result("textDocument/hover", at(&variant, 3, 22)),
        markdown("head **1.3** in class **extra** at END", (3, 21), (3, 24))
    );
    // Positions: the task's definition.
    assert_eq!(
        client.result("textDocument/hover", at(&base, 5, 38)),
        markdown(
            "position **B1** of task **induction**: `B1 = B`\n\n\
             induction: Induction on random letters: … A B … A → B (the toy model's task)",
            (5, 37),
            (5, 39)
        )
    );
    assert_eq!(
        client.result("textDocument/hover", at(&variant, 3, 16)),
        markdown(
            "position **END** of task **induction**: `END = end`\n\n\
             induction: Induction on random letters: … A B … A → B (the toy model's task)",
            (3, 15),
            (3, 18)
        )
    );
    // An offset from a placeholder, in the IOI task.
    let ioi = uri(&dir.path().join("ioi.circuit"));
    client.open(
        &ioi,
        "circuit i {\n  model gpt2-small\n  task ioi\n}\n\nclass p at S1+1, END { 2.2 }\n",
    );
    assert_eq!(
        client.result("textDocument/hover", at(&ioi, 5, 12)),
        markdown(
            "position **S1+1** of task **ioi**: `S1+1 = B+1`\n\n\
             ioi: Indirect object identification (Wang et al. 2022), BABA and ABBA templates mixed",
            (5, 11),
            (5, 15)
        )
    );
    // A class used in the variant, defined in the base.
    assert_eq!(
        client.result("textDocument/hover", at(&variant, 5, 6)),
        markdown(
            "class **prev** at B1: heads 0.1\n\nPrevious Token Heads",
            (5, 5),
            (5, 9)
        )
    );
    // Nothing to say between names.
    assert_eq!(
        client.result("textDocument/hover", at(&variant, 2, 0)),
        Value::Null
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn definition_and_references_cross_extends() {
    let dir = workspace();
    let base = uri(&dir.path().join("base.circuit"));
    let variant = uri(&dir.path().join("variant.circuit"));
    let other = uri(&dir.path().join("sub/other.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&variant, VARIANT);
    // `prev` in the variant is defined in the base, which is not open.
    assert_eq!(
        client.result("textDocument/definition", at(&variant, 5, 7)),
        location(&base, (5, 6), (5, 10))
    );
    // The path after `extends` leads to the base.
    assert_eq!(
        client.result("textDocument/definition", at(&variant, 0, 30)),
        location(&base, (0, 0), (0, 0))
    );
    // From the base: its own uses, the open variant's, and the variant on disk's; not the
    // unrelated file's own `prev`.
    client.open(&base, BASE);
    let references = |include_declaration| {
        json!({
            "textDocument": { "uri": base },
            "position": { "line": 5, "character": 8 },
            "context": { "includeDeclaration": include_declaration },
        })
    };
    let uses = [
        location(&base, (8, 5), (8, 9)),
        location(&other, (3, 13), (3, 17)),
        location(&variant, (4, 11), (4, 15)),
        location(&variant, (5, 5), (5, 9)),
    ];
    let mut all = vec![location(&base, (5, 6), (5, 10))];
    all.extend(uses.iter().cloned());
    assert_eq!(
        client.result("textDocument/references", references(true)),
        json!(all)
    );
    assert_eq!(
        client.result("textDocument/references", references(false)),
        json!(uses)
    );
    // A class of the variant alone.
    let extra = json!({
        "textDocument": { "uri": variant },
        "position": { "line": 6, "character": 5 },
        "context": { "includeDeclaration": true },
    });
    assert_eq!(
        client.result("textDocument/references", extra),
        json!([
            location(&variant, (3, 6), (3, 11)),
            location(&variant, (5, 13), (5, 18)),
            location(&variant, (6, 5), (6, 10)),
        ])
    );
    // A head is no class: no definition.
    assert_eq!(
        client.result("textDocument/definition", at(&variant, 3, 22)),
        Value::Null
    );
    assert_eq!(client.shut_down(), 0);
}

/// The labels of a completion, and the range its items replace (all the same).
fn completion(client: &mut Client, uri: &Url, line: u32, character: u32) -> (Vec<String>, Value) {
    let items = client.result("textDocument/completion", at(uri, line, character));
    let items = items.as_array().unwrap();
    let labels = items
        .iter()
        .map(|item| item["label"].as_str().unwrap().to_string())
        .collect();
    let range = items[0]["textEdit"]["range"].clone();
    assert!(items.iter().all(|item| item["textEdit"]["range"] == range));
    (labels, range)
}

#[test]
fn completion_offers_what_the_statement_takes_next() {
    let dir = workspace();
    let draft = uri(&dir.path().join("draft.circuit"));
    let mut client = Client::start(dir.path());
    // Half-written, as files are while being completed: it does not parse.
    let text = "\
circuit draft extends \"base.circuit\" {
  level 
}

class extra at E
edge prev -> extra.
add 0.2 to 
remove 
expect 
class early at END { 0.
";
    client.open(&draft, text);
    let words = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();

    assert_eq!(
        completion(&mut client, &draft, 1, 8),
        (words(&["node", "edge"]), range((1, 8), (1, 8)))
    );
    assert_eq!(
        completion(&mut client, &draft, 3, 0),
        (
            words(&[
                "class",
                "edge",
                "mlp",
                "expect",
                "minimality",
                "remove",
                "add"
            ]),
            range((3, 0), (3, 0))
        )
    );
    // The task's positions (from the base's `task induction`), replacing what is typed.
    assert_eq!(
        completion(&mut client, &draft, 4, 16),
        (
            words(&["X1", "A1", "B1", "A2", "END", "all"]),
            range((4, 15), (4, 16))
        )
    );
    let details: Vec<Value> = client
        .result("textDocument/completion", at(&draft, 4, 16))
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["detail"].clone())
        .collect();
    assert_eq!(
        details,
        [
            json!("X1 = X1"),
            json!("A1 = A"),
            json!("B1 = B"),
            json!("A2 = A#2"),
            json!("END = end"),
            Value::Null
        ]
    );
    assert_eq!(
        completion(&mut client, &draft, 5, 19),
        (words(&["q", "k", "v"]), range((5, 19), (5, 19)))
    );
    // Class names: this file's, then its base's.
    assert_eq!(
        completion(&mut client, &draft, 6, 11),
        (
            words(&["extra", "early", "prev", "copier"]),
            range((6, 11), (6, 11))
        )
    );
    assert_eq!(
        completion(&mut client, &draft, 7, 7),
        (
            words(&["class", "head", "edge", "expect"]),
            range((7, 7), (7, 7))
        )
    );
    assert_eq!(
        completion(&mut client, &draft, 8, 7),
        (
            words(&[
                "faithfulness",
                "faithfulness_gap",
                "normalized_faithfulness",
                "incompleteness",
                "minimality"
            ]),
            range((8, 7), (8, 7))
        )
    );
    // Heads within toy-induction's 2 layers × 4 heads, with the class each is in.
    let heads = client.result("textDocument/completion", at(&draft, 9, 23));
    let heads: Vec<(&str, &Value)> = heads
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["label"].as_str().unwrap(), &item["detail"]))
        .collect();
    assert_eq!(
        heads,
        [
            ("0.0", &Value::Null),
            ("0.1", &json!("class prev")),
            ("0.2", &Value::Null),
            ("0.3", &Value::Null),
            ("1.0", &Value::Null),
            ("1.1", &Value::Null),
            ("1.2", &json!("class copier")),
            ("1.3", &Value::Null),
        ]
    );
    assert_eq!(
        completion(&mut client, &draft, 9, 23).1,
        range((9, 21), (9, 23))
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn rename_edits_the_class_and_the_variants_that_extend_its_file() {
    let dir = workspace();
    let base = uri(&dir.path().join("base.circuit"));
    let variant = uri(&dir.path().join("variant.circuit"));
    let other = uri(&dir.path().join("sub/other.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&variant, VARIANT);
    assert_eq!(
        client.result("textDocument/prepareRename", at(&variant, 5, 6)),
        json!({ "range": range((5, 5), (5, 9)), "placeholder": "prev" })
    );
    let rename = |new_name: &str| {
        json!({
            "textDocument": { "uri": variant },
            "position": { "line": 5, "character": 6 },
            "newName": new_name,
        })
    };
    let edit = |start, end| json!({ "range": range(start, end), "newText": "previous" });
    let mut expected = serde_json::Map::new();
    expected.insert(
        base.to_string(),
        json!([edit((5, 6), (5, 10)), edit((8, 5), (8, 9))]),
    );
    expected.insert(other.to_string(), json!([edit((3, 13), (3, 17))]));
    expected.insert(
        variant.to_string(),
        json!([edit((4, 11), (4, 15)), edit((5, 5), (5, 9))]),
    );
    assert_eq!(
        client.result("textDocument/rename", rename("previous")),
        json!({ "changes": expected })
    );
    // Names that would not be classes, or would clash, are refused with a reason.
    let refused = client.request("textDocument/rename", rename("logits"));
    assert_eq!(refused["error"]["code"], -32803);
    assert_eq!(
        refused["error"]["message"],
        "`logits` cannot name a class: letters, digits and `_`, not starting with a digit, and \
         not a keyword"
    );
    let refused = client.request("textDocument/rename", rename("copier"));
    assert_eq!(
        refused["error"]["message"],
        "a class `copier` exists already"
    );
    // Heads are not renamed.
    assert_eq!(
        client.result("textDocument/prepareRename", at(&variant, 3, 22)),
        Value::Null
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn bad_input_gets_an_error_and_the_server_goes_on() {
    let dir = workspace();
    // The base is not UTF-8: it cannot be read.
    std::fs::write(dir.path().join("bad.circuit"), b"circuit bad {\xff\xfe}\n").unwrap();
    let broken = uri(&dir.path().join("broken.circuit"));
    let mut client = Client::start(dir.path());

    // Not JSON: a parse error without an id, as JSON-RPC says.
    client.send_raw(b"{ this is not json");
    let answer = client.response(Value::Null);
    assert_eq!(answer["error"]["code"], -32700);
    assert_eq!(
        answer["error"]["message"],
        "malformed message: key must be a string at line 1 column 3"
    );
    // JSON, but no JSON-RPC message: an invalid request, with its id.
    client.send_raw(br#"{"jsonrpc": "2.0", "id": 99}"#);
    assert_eq!(client.response(json!(99))["error"]["code"], -32600);
    // Parameters of the wrong shape.
    let answer = client.request("textDocument/hover", json!("nonsense"));
    assert_eq!(answer["error"]["code"], -32602);
    // A method the server does not have.
    let answer = client.request("textDocument/semanticTokens/full", json!({}));
    assert_eq!(
        answer["error"],
        json!({ "code": -32601, "message": "circuitcheck does not serve `textDocument/semanticTokens/full`" })
    );
    // A document that was never opened: an empty answer.
    let nowhere = uri(&dir.path().join("nowhere.circuit"));
    assert_eq!(
        client.result("textDocument/hover", at(&nowhere, 0, 0)),
        Value::Null
    );
    // Notifications it cannot use are dropped.
    client.notify("textDocument/didChange", json!({ "textDocument": 3 }));
    client.notify("workspace/somethingNew", json!({}));

    // A variant of the unreadable base.
    let text = "circuit broken extends \"bad.circuit\" {\n}\n\nclass a at END { 1.3 }\n";
    client.open(&broken, text);
    let bad_path = dir.path().join("bad.circuit");
    assert_eq!(
        client.diagnostics(&broken),
        json!([{
            "range": range((0, 23), (0, 36)),
            "severity": 1,
            "code": "circuit::extends-missing",
            "source": "circuitcheck",
            "message": format!(
                "cannot extend `bad.circuit`: cannot read {}: stream did not contain valid UTF-8\n\
                 help: the path is relative to the directory of this file",
                bad_path.display()
            ),
            "relatedInformation": [
                { "location": location(&broken, (0, 23), (0, 36)), "message": "cannot be read" }
            ],
        }])
    );
    // Requests on it still get answers.
    assert_eq!(
        client.result("textDocument/hover", at(&broken, 3, 18)),
        json!({
            "contents": { "kind": "markdown", "value": "head **1.3** in class **a** at END" },
            "range": range((3, 17), (3, 20)),
        })
    );
    assert_eq!(
        client.result("textDocument/definition", at(&broken, 0, 30)),
        Value::Null
    );
    let (labels, _) = completion(&mut client, &broken, 3, 0);
    assert_eq!(labels[0], "class");
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn exit_without_shutdown_is_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::start(dir.path());
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_code(), 1);
}

#[test]
fn a_circuit_naming_a_task_file_gets_its_positions_and_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/lint/tasks/mini.toml", dir.path().join("mini.toml")).unwrap();
    std::fs::write(dir.path().join("broken.toml"), "name = \"x\"\nmetric = 3\n").unwrap();
    let circuit = uri(&dir.path().join("c.circuit"));
    let text =
        "circuit c {\n  model gpt2-small\n  task \"mini.toml\"\n}\n\nclass a at S2 { 3.0 }\n";
    let mut client = Client::start(dir.path());
    client.open(&circuit, text);
    assert_eq!(client.diagnostics(&circuit), json!([]));
    // The file's positions, in hover and completion.
    let hover = client.result("textDocument/hover", at(&circuit, 5, 12));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("position **S2** of task **\""),
        "{hover}"
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("`S2 = B#2`"),
        "{hover}"
    );
    // A broken task file: its problem where it is, in the TOML, and the circuit's own.
    client.change(&circuit, 2, &text.replace("mini.toml", "broken.toml"));
    let own = client.diagnostics(&circuit);
    assert_eq!(own[0]["code"], "circuit::task-invalid", "{own}");
    assert_eq!(own[0]["range"], range((2, 7), (2, 20)));
    let toml = uri(&dir.path().join("broken.toml"));
    let there = client.diagnostics(&toml);
    assert_eq!(there[0]["code"], "task::syntax", "{there}");
    assert_eq!(there[0]["range"]["start"]["line"], 1, "{there}");
    assert_eq!(client.shut_down(), 0);
}
