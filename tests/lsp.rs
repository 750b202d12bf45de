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
    /// What the server said it can do, in `initialize`.
    capabilities: Value,
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
            capabilities: Value::Null,
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
        client.capabilities = answer["capabilities"].clone();
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

/// A diagnostic as the server publishes it, its label also its one related location.
fn published(
    uri: &Url,
    (start, end): ((u32, u32), (u32, u32)),
    severity: u8,
    code: &str,
    message: impl Into<String>,
    label: &str,
) -> Value {
    json!({
        "range": range(start, end),
        "severity": severity,
        "code": code,
        "source": "circuitcheck",
        "message": message.into(),
        "relatedInformation": [{ "location": location(uri, start, end), "message": label }],
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
/// The workspace with a client that has the variant open: the workspace (kept alive for the
/// test), the client, and the base's, the variant's and the other file's URIs.
fn variant_open() -> (tempfile::TempDir, Client, [Url; 3]) {
    let dir = workspace();
    let [base, variant, other] =
        ["base.circuit", "variant.circuit", "sub/other.circuit"].map(|f| uri(&dir.path().join(f)));
    let mut client = Client::start(dir.path());
    client.open(&variant, VARIANT);
    (dir, client, [base, variant, other])
}

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
    let unknown_position = published(
        &base,
        ((5, 37), (5, 39)),
        1,
        "circuit::unknown-position",
        "task `induction` has no position `B9`: unknown position\nhelp: did you mean `B1`? task `induction` names the positions X1, A1, B1, A2 and END, or use `all`",
        "unknown position",
    );
    assert_eq!(client.diagnostics(&base), json!([unknown_position]));
    assert_eq!(
        client.diagnostics(&variant),
        json!([published(
            &variant,
            ((0, 24), (0, 38)),
            1,
            "circuit::extends-invalid",
            "cannot extend `base.circuit`: it has errors: this file has errors\nhelp: fix the errors reported for that file first",
            "this file has errors"
        )])
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
            published(&base, ((5, 33), (5, 35)), 1, "circuit::unknown-position", "task `induction` has no position `B9`: unknown position\nhelp: did you mean `B1`? task `induction` names the positions X1, A1, B1, A2 and END, or use `all`", "unknown position"),
            {
                "range": range((6, 25), (6, 28)),
                "severity": 1,
                "code": "circuit::duplicate-head",
                "source": "circuitcheck",
                "message": "head 0.1 is listed twice: already in class `prev`\nhelp: a head belongs to exactly one class",
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
        json!([published(
            &variant,
            ((3, 6), (3, 11)),
            2,
            "circuit::unreachable",
            "class `extra` cannot reach the logits: no path of edges from here to `logits`\nhelp: add an edge from `extra` towards `logits`, or remove the class",
            "no path of edges from here to `logits`"
        )])
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
    let (_dir, mut client, [base, variant, other]) = variant_open();
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
    // In a class's list: only heads no class has yet.
    assert_eq!(
        heads,
        [
            ("0.0", &Value::Null),
            ("0.2", &Value::Null),
            ("0.3", &Value::Null),
            ("1.0", &Value::Null),
            ("1.1", &Value::Null),
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
    let (_dir, mut client, [base, variant, other]) = variant_open();
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
    let answer = client.request("textDocument/inlayHint", json!({}));
    assert_eq!(
        answer["error"],
        json!({ "code": -32601, "message": "circuitcheck does not serve `textDocument/inlayHint`" })
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
        json!([published(
            &broken,
            ((0, 23), (0, 36)),
            1,
            "circuit::extends-missing",
            format!(
                "cannot extend `bad.circuit`: cannot read {}: stream did not contain valid UTF-8: cannot be read\n\
                 help: the path is relative to the directory of this file",
                bad_path.display()
            ),
            "cannot be read"
        )])
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

/// Where `needle` starts in `text`: (line, UTF-16 column). ASCII texts only.
fn position_of(text: &str, needle: &str) -> (u32, u32) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("no {needle:?}"));
    let line = text[..offset].matches('\n').count() as u32;
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line, column as u32)
}

/// Every whole-word occurrence of `word` outside comments: (start, end) positions.
fn word_ranges(text: &str, word: &str) -> Vec<((u32, u32), (u32, u32))> {
    let is_name = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = Vec::new();
    for (line, code) in text.lines().enumerate() {
        let code = code.split('#').next().unwrap();
        for (column, _) in code.match_indices(word) {
            let before = code[..column].chars().next_back();
            let after = code[column + word.len()..].chars().next();
            if !is_name(before) && !is_name(after) {
                let (line, column) = (line as u32, column as u32);
                out.push(((line, column), (line, column + word.len() as u32)));
            }
        }
    }
    out
}

#[test]
fn navigation_works_on_the_statements_beside_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string("circuits/ioi.circuit").unwrap();
    // The issue's half-typed line, in a file opened broken.
    let text = format!("{good}edge name_mover ->\n");
    let ioi = uri(&dir.path().join("ioi.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&ioi, &text);
    // The syntax error is reported as `lint` reports it, and alone.
    let end = position_of(&text, "edge name_mover ->");
    let end = (end.0, end.1 + 18);
    assert_eq!(
        client.diagnostics(&ioi),
        json!([published(
            &ioi,
            (end, end),
            1,
            "circuit::syntax",
            "syntax error: unexpected the end of the file: expected a head (`layer.head`, e.g. `9.9`) or a name\nhelp: see grammar/GRAMMAR.md for every construct of the language, with examples",
            "expected a head (`layer.head`, e.g. `9.9`) or a name"
        )])
    );
    // Hover on a head of a class.
    let (line, column) = position_of(&text, "9.9 10.0");
    assert_eq!(
        client.result("textDocument/hover", at(&ioi, line, column + 1)),
        json!({
            "contents": { "kind": "markdown", "value": "head **9.9** in class **name_mover** at END\n\nName Mover Heads" },
            "range": range((line, column), (line, column + 3)),
        })
    );
    // Definition of a class used in an edge.
    let (line, column) = position_of(&text, "edge previous_token");
    let (def_line, def_column) = position_of(&text, "class previous_token");
    assert_eq!(
        client.result("textDocument/definition", at(&ioi, line, column + 7)),
        location(
            &ioi,
            (def_line, def_column + 6),
            (def_line, def_column + 20)
        )
    );
    // References: every use in the statements that parse (not in the broken line).
    let mut uses = word_ranges(&text, "name_mover");
    assert_eq!(uses.pop().map(|(start, _)| start.0), Some(end.0));
    let references = client.result(
        "textDocument/references",
        json!({
            "textDocument": { "uri": ioi },
            "position": { "line": uses[0].0.0, "character": uses[0].0.1 + 2 },
            "context": { "includeDeclaration": true },
        }),
    );
    let expected: Vec<Value> = uses
        .iter()
        .map(|&(start, end)| location(&ioi, start, end))
        .collect();
    assert_eq!(uses.len(), 8);
    assert_eq!(references, json!(expected));
    // Rename.
    let induction = word_ranges(&text, "induction");
    let (line, column) = induction[0].0;
    let edit = client.result(
        "textDocument/rename",
        json!({
            "textDocument": { "uri": ioi },
            "position": { "line": line, "character": column + 1 },
            "newName": "induction_heads",
        }),
    );
    let edits: Vec<Value> = induction
        .iter()
        .map(|&(start, end)| json!({ "range": range(start, end), "newText": "induction_heads" }))
        .collect();
    assert_eq!(induction.len(), 4);
    assert_eq!(edit, json!({ "changes": { ioi.as_str(): edits } }));
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn a_burst_of_changes_is_checked_once_and_requests_see_the_newest_text() {
    let dir = tempfile::tempdir().unwrap();
    let big = uri(&dir.path().join("big.circuit"));
    // 5,000 lines, and a problem that differs in each version, so each version's
    // diagnostics would be news.
    let version = |i: usize| {
        let mut text = String::from(
            "circuit big {\n  model gpt2-small\n  task ioi\n}\n\nclass a at END { 9.9 }\n",
        );
        text.push_str(&format!("class b at P{i} {{ 10.0 }}\n"));
        for n in 0..2500 {
            text.push_str(&format!("# note {n}\nedge a -> b.q\n"));
        }
        text
    };
    let mut client = Client::start(dir.path());
    client.open(&big, &version(0));
    assert_eq!(
        client.diagnostics(&big)[0]["code"],
        "circuit::unknown-position"
    );
    // Written back to back, as an editor sends keystrokes.
    let changes: Vec<Vec<u8>> = (1..=100)
        .map(|i| {
            let params = json!({
                "textDocument": { "uri": big, "version": i + 1 },
                "contentChanges": [{ "text": version(i) }],
            });
            let message =
                json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": params });
            message.to_string().into_bytes()
        })
        .collect();
    let started = std::time::Instant::now();
    for change in &changes {
        client.send_raw(change);
    }
    let hover = client.result("textDocument/hover", at(&big, 6, 20));
    let elapsed = started.elapsed();
    assert_eq!(
        hover["contents"]["value"],
        "head **10.0** in class **b** at P100"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    // Everything published for the burst came before `shutdown`'s answer: one set, the
    // newest version's.
    assert_eq!(
        client.request("shutdown", Value::Null)["result"],
        Value::Null
    );
    let published: Vec<&Value> = client
        .pending
        .iter()
        .filter(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == big.as_str()
        })
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0]["params"]["version"], 101);
    let message = published[0]["params"]["diagnostics"][0]["message"].as_str();
    assert!(message.unwrap().contains("`P100`"), "{message:?}");
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_code(), 0);
}

#[test]
fn a_buffer_that_is_not_utf8_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = uri(&dir.path().join("latin1.circuit"));
    let mut client = Client::start(dir.path());
    // Vim's `++bad=keep` sends the file's bytes as they are: `é` in Latin-1 is one byte,
    // not UTF-8.
    let text =
        "circuit latin1 {\n  model gpt2-small\n  task ioi\n}\n\nclass a \"caf@\" at END { 12.0 }\n";
    let document = json!({ "uri": latin1, "languageId": "circuit", "version": 1, "text": text });
    let message = json!({
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": { "textDocument": document },
    })
    .to_string();
    let (before, after) = message.split_once('@').unwrap();
    client.send_raw(&[before.as_bytes(), b"\xe9", after.as_bytes()].concat());
    // The byte reads as U+FFFD, one UTF-16 unit like `é`.
    assert_eq!(
        client.diagnostics(&latin1),
        json!([published(
            &latin1,
            ((5, 24), (5, 28)),
            1,
            "circuit::head-out-of-range",
            "head 12.0 is outside gpt2-small: layer 12 does not exist\nhelp: gpt2-small has layers 0–11 with heads 0–11 each",
            "layer 12 does not exist"
        )])
    );
    assert_eq!(client.shut_down(), 0);
}

/// A document symbol as (name, kind, children), for comparing outlines.
fn outline(symbols: &Value) -> Vec<(String, u64, Vec<String>)> {
    symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|symbol| {
            let children = symbol["children"]
                .as_array()
                .map(|children| {
                    children
                        .iter()
                        .map(|child| child["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            let name = symbol["name"].as_str().unwrap().to_string();
            (name, symbol["kind"].as_u64().unwrap(), children)
        })
        .collect()
}

#[test]
fn document_symbols_outline_settings_classes_edges_and_expectations() {
    let dir = workspace();
    let base = uri(&dir.path().join("base.circuit"));
    let mut client = Client::start(dir.path());
    assert_eq!(client.capabilities["documentSymbolProvider"], true);
    // A half-typed line at the end hides only itself.
    let text = format!("{BASE}expect faithfulness >= 0.8\nedge copier ->\n");
    client.open(&base, &text);
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": base } }),
    );
    let words = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    // Kinds: 2 module, 5 class, 25 operator, 14 constant.
    assert_eq!(
        outline(&symbols),
        [
            ("circuit base".to_string(), 2, words(&["model", "task"])),
            ("prev".to_string(), 5, words(&["0.1"])),
            ("copier".to_string(), 5, words(&["1.2"])),
            ("prev -> copier.k".to_string(), 25, vec![]),
            ("copier -> logits".to_string(), 25, vec![]),
            ("faithfulness >= 0.8".to_string(), 14, vec![]),
        ]
    );
    // A class spans its statement and is selected by its name; a setting shows its value.
    assert_eq!(symbols[1]["range"], range((5, 0), (5, 47)));
    assert_eq!(symbols[1]["selectionRange"], range((5, 6), (5, 10)));
    assert_eq!(symbols[1]["detail"], "Previous Token Heads");
    assert_eq!(symbols[1]["children"][0]["range"], range((5, 42), (5, 45)));
    assert_eq!(symbols[0]["children"][0]["detail"], "toy-induction");
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn code_actions_apply_the_fixes_the_diagnostics_suggest() {
    let dir = tempfile::tempdir().unwrap();
    let file = uri(&dir.path().join("fix.circuit"));
    let text = "\
circuit fix {
  model toy-induction
  task induction
}

class prev at B9 { 0.1 }
class copier at A2 { 1.2 0.1 }

edge copier -> prev.k
edge prev -> copeir
";
    let mut client = Client::start(dir.path());
    assert_eq!(
        client.capabilities["codeActionProvider"],
        json!({ "codeActionKinds": ["quickfix"] })
    );
    client.open(&file, text);
    assert_eq!(client.diagnostics(&file).as_array().unwrap().len(), 4);
    let mut actions = |line: u32, character: u32| {
        let params = json!({
            "textDocument": { "uri": file },
            "range": range((line, character), (line, character)),
            "context": { "diagnostics": [] },
        });
        let actions = client.result("textDocument/codeAction", params);
        actions
            .as_array()
            .unwrap()
            .iter()
            .map(|action| {
                assert_eq!(action["kind"], "quickfix");
                assert_eq!(action["diagnostics"].as_array().unwrap().len(), 1);
                let edits = &action["edit"]["changes"][file.as_str()];
                (action["title"].as_str().unwrap().to_string(), edits.clone())
            })
            .collect::<Vec<_>>()
    };
    let edit = |start, end, text: &str| json!({ "range": range(start, end), "newText": text });
    // "Did you mean": a position, and a class.
    assert_eq!(
        actions(5, 15),
        [(
            "Replace with `B1`".to_string(),
            json!([edit((5, 14), (5, 16), "B1")])
        )]
    );
    assert_eq!(
        actions(9, 14),
        [(
            "Replace with `copier`".to_string(),
            json!([edit((9, 13), (9, 19), "copier")])
        )]
    );
    // A head listed twice: the second one goes, with the space before it.
    assert_eq!(
        actions(6, 26),
        [(
            "Remove this 0.1 (already in `prev`)".to_string(),
            json!([edit((6, 24), (6, 28), "")])
        )]
    );
    // An edge that goes backwards: reversed, the channel staying on the receiver.
    assert_eq!(
        actions(8, 16),
        [(
            "Reverse the edge: `prev -> copier.k`".to_string(),
            json!([
                edit((8, 5), (8, 11), "prev"),
                edit((8, 15), (8, 21), "copier.k")
            ])
        )]
    );
    // Nothing to fix on a line without problems.
    assert_eq!(actions(1, 3), []);
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn semantic_tokens_colour_every_kind_of_word() {
    let dir = tempfile::tempdir().unwrap();
    let file = uri(&dir.path().join("colours.circuit"));
    let text = "\
# colours
circuit t {
  model toy-induction
  task induction
}

class prev \"P\" at B1 { 0.1 }
edge embed -> prev.k
expect minimality(0.1) >= 0.5
edge prev ->
";
    let mut client = Client::start(dir.path());
    let provider = client.capabilities["semanticTokensProvider"].clone();
    assert_eq!(provider["full"], true);
    let legend: Vec<String> = provider["legend"]["tokenTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    client.open(&file, text);
    let tokens = client.result(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": file } }),
    );
    let data: Vec<u32> = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as u32)
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let (mut line, mut column) = (0, 0);
    let mut decoded = Vec::new();
    for token in data.chunks(5) {
        line += token[0];
        column = if token[0] == 0 {
            column + token[1]
        } else {
            token[1]
        };
        let word = &lines[line as usize][column as usize..(column + token[2]) as usize];
        decoded.push((line, word.to_string(), legend[token[3] as usize].clone()));
    }
    let expected = [
        (0, "# colours", "comment"),
        (1, "circuit", "keyword"),
        (1, "t", "namespace"),
        (2, "model", "keyword"),
        (2, "toy-induction", "property"),
        (3, "task", "keyword"),
        (3, "induction", "property"),
        (6, "class", "keyword"),
        (6, "prev", "class"),
        (6, "\"P\"", "string"),
        (6, "at", "keyword"),
        (6, "B1", "enumMember"),
        (6, "0.1", "variable"),
        (7, "edge", "keyword"),
        (7, "embed", "keyword"),
        (7, "->", "operator"),
        (7, "prev", "class"),
        (7, ".k", "property"),
        (8, "expect", "keyword"),
        (8, "minimality", "function"),
        (8, "0.1", "variable"),
        (8, ">=", "operator"),
        (8, "0.5", "number"),
        // A line that does not parse: its words by what they are.
        (9, "edge", "keyword"),
        (9, "prev", "class"),
        (9, "->", "operator"),
    ]
    .map(|(line, word, kind)| (line, word.to_string(), kind.to_string()));
    assert_eq!(decoded, expected);
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn hover_explains_settings_metrics_embed_and_logits() {
    let dir = tempfile::tempdir().unwrap();
    let file = uri(&dir.path().join("h.circuit"));
    let text = "\
circuit h {
  model gpt2-small
  task ioi
  ablation mean
  level edge
}

class n at END { 9.9 }
edge embed -> n
edge n -> logits
expect faithfulness >= 0.8
";
    let mut client = Client::start(dir.path());
    client.open(&file, text);
    let mut hover = |line, character| {
        let answer = client.result("textDocument/hover", at(&file, line, character));
        answer["contents"]["value"].as_str().unwrap().to_string()
    };
    assert!(hover(1, 3).starts_with("**model**: the model the heads belong to"));
    assert_eq!(hover(1, 9), "model **gpt2-small**: 12 layers × 12 heads");
    assert!(hover(2, 3).starts_with("**task**: "));
    assert!(hover(2, 8).starts_with("task **ioi**: Indirect object identification"));
    assert!(hover(2, 8).ends_with("positions: IO, S1, S1+1, S2, END"));
    assert!(hover(3, 4).starts_with("**ablation**: "));
    assert!(
        hover(3, 12)
            .starts_with("ablation **mean**: a knocked-out component is replaced by the mean")
    );
    assert!(hover(4, 3).starts_with("**level**: "));
    assert!(hover(4, 9).starts_with("level **edge**: "));
    assert_eq!(
        hover(10, 9),
        "**faithfulness**: F(C) / F(M), how much of the model's behaviour the circuit keeps"
    );
    assert!(hover(8, 6).starts_with("**embed**: "));
    assert!(hover(9, 12).starts_with("**logits**: "));
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn definition_of_a_position_is_in_its_task_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/lint/tasks/mini.toml", dir.path().join("mini.toml")).unwrap();
    std::fs::create_dir(dir.path().join("circuits")).unwrap();
    let mine = uri(&dir.path().join("circuits/mine.circuit"));
    let builtin = uri(&dir.path().join("circuits/builtin.circuit"));
    let mut client = Client::start(dir.path());
    // A task file the header names.
    client.open(
        &mine,
        "circuit m {\n  model gpt2-small\n  task \"../mini.toml\"\n}\n\nclass a at S2 { 3.0 }\n",
    );
    let toml = std::fs::read_to_string("tests/lint/tasks/mini.toml").unwrap();
    let (line, column) = position_of(&toml, "\"S2 = ");
    assert_eq!(
        client.result("textDocument/definition", at(&mine, 5, 12)),
        location(
            &uri(&dir.path().join("mini.toml")),
            (line, column + 1),
            (line, column + 3)
        )
    );
    // A built-in task: only in the binary, so nowhere to go…
    let text = "circuit b {\n  model gpt2-small\n  task ioi\n}\n\nclass a at S1+1 { 3.0 }\n";
    client.open(&builtin, text);
    assert_eq!(
        client.result("textDocument/definition", at(&builtin, 5, 12)),
        Value::Null
    );
    // …unless the workspace holds its TOML, as this repository does.
    let ioi = std::fs::read_to_string("tasks/ioi.toml").unwrap();
    std::fs::create_dir(dir.path().join("tasks")).unwrap();
    std::fs::write(dir.path().join("tasks/ioi.toml"), &ioi).unwrap();
    let (line, column) = position_of(&ioi, "\"S1+1 = ");
    assert_eq!(
        client.result("textDocument/definition", at(&builtin, 5, 12)),
        location(
            &uri(&dir.path().join("tasks/ioi.toml")),
            (line, column + 1),
            (line, column + 5)
        )
    );
    // An edited copy is not the task the circuit gets.
    std::fs::write(dir.path().join("tasks/ioi.toml"), format!("# mine\n{ioi}")).unwrap();
    assert_eq!(
        client.result("textDocument/definition", at(&builtin, 5, 12)),
        Value::Null
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn references_of_a_head_cross_into_variants() {
    let dir = workspace();
    let v = "circuit v extends \"base.circuit\" {\n}\n\nminimality 1.2 given { 0.1 }\nexpect minimality(0.1) >= 0.1\n";
    std::fs::write(dir.path().join("v.circuit"), v).unwrap();
    let base = uri(&dir.path().join("base.circuit"));
    let variant = uri(&dir.path().join("v.circuit"));
    let mut client = Client::start(dir.path());
    client.open(&base, BASE);
    let references = |include_declaration| {
        json!({
            "textDocument": { "uri": base },
            "position": { "line": 5, "character": 43 },
            "context": { "includeDeclaration": include_declaration },
        })
    };
    let uses = [
        location(&variant, (3, 23), (3, 26)),
        location(&variant, (4, 18), (4, 21)),
    ];
    assert_eq!(
        client.result("textDocument/references", references(false)),
        json!(uses)
    );
    let mut all = vec![location(&base, (5, 42), (5, 45))];
    all.extend(uses);
    assert_eq!(
        client.result("textDocument/references", references(true)),
        json!(all)
    );
    // From the variant, the same head.
    client.open(&variant, v);
    let from_variant = json!({
        "textDocument": { "uri": variant },
        "position": { "line": 3, "character": 24 },
        "context": { "includeDeclaration": true },
    });
    assert_eq!(
        client.result("textDocument/references", from_variant),
        json!(all)
    );
    assert_eq!(client.shut_down(), 0);
}

#[test]
fn completion_after_edge_lists_classes_before_heads() {
    let dir = workspace();
    let draft = uri(&dir.path().join("draft.circuit"));
    let mut client = Client::start(dir.path());
    client.open(
        &draft,
        "circuit d extends \"base.circuit\" {\n}\n\nclass mine at END { 1.3 }\nedge \n",
    );
    let items = client.result("textDocument/completion", at(&draft, 4, 5));
    let mut items: Vec<(String, String)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let sort = item["sortText"].as_str().unwrap().to_string();
            (sort, item["label"].as_str().unwrap().to_string())
        })
        .collect();
    // Clients order by sortText.
    items.sort();
    let labels: Vec<&str> = items.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels[..5], ["mine", "prev", "copier", "0.0", "0.1"]);
    assert_eq!(labels.last(), Some(&"embed"));
    // The MLPs, each after the heads of its layer.
    assert_eq!(labels[3 + 4], "mlp.0");
    assert_eq!(labels[3 + 4 + 1 + 4], "mlp.1");
    assert_eq!(labels.len(), 3 + 8 + 2 + 1);
    assert_eq!(client.shut_down(), 0);
}
