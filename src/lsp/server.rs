//! The message loop: the handshake, then each request answered and each notification
//! handled in turn. Nothing a client sends stops the server but `exit`: a request it
//! cannot serve gets an error response, a notification it cannot use a line on stderr.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response, ResponseError};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _, SemanticTokensFullRequest,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions,
    CompletionResponse, DocumentSymbolResponse, GotoDefinitionResponse, HoverProviderCapability,
    InitializeParams, InitializeResult, OneOf, PositionEncodingKind, PublishDiagnosticsParams,
    RenameOptions, SaveOptions, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensResult, SemanticTokensServerCapabilities, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, Url,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::lsp::workspace::Workspace;
use crate::lsp::{
    code_actions, completion, diagnostics, document_symbols, formatting, hover, log, navigation,
    semantic_tokens,
};

/// A pause in a client's messages this long after a change ends a burst of keystrokes.
const QUIET: Duration = Duration::from_millis(50);

/// The longest a burst delays the diagnostics of its changes.
const MAX_SETTLE: Duration = Duration::from_secs(1);

struct Server<'c> {
    connection: &'c Connection,
    workspace: Workspace,
    /// Whether the client shows diagnostics' related information (else labels go into the
    /// message).
    related_information: bool,
    /// What each file was last told, so only changes are sent.
    published: BTreeMap<Url, Vec<lsp_types::Diagnostic>>,
}

/// Runs until `exit` or the end of the input; true when `shutdown` came first.
pub fn run(connection: &Connection) -> bool {
    let (id, params) = match connection.initialize_start() {
        Ok(start) => start,
        Err(error) => {
            log(format_args!("no initialize request: {error}"));
            return false;
        }
    };
    let params: InitializeParams = serde_json::from_value(params).unwrap_or_else(|error| {
        log(format_args!(
            "unreadable initialize parameters ({error}); using defaults"
        ));
        InitializeParams::default()
    });
    let result = InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo {
            name: "circuitcheck".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    };
    // Not `initialize_finish`, which gives up when anything but `initialized` comes next;
    // the loop takes `initialized` whenever it comes.
    if connection
        .sender
        .send(Response::new_ok(id, result).into())
        .is_err()
    {
        log("the client is gone");
        return false;
    }
    let related_information = params
        .capabilities
        .text_document
        .as_ref()
        .and_then(|text| text.publish_diagnostics.as_ref())
        .and_then(|publish| publish.related_information)
        .unwrap_or(false);
    let mut server = Server {
        connection,
        workspace: Workspace::new(roots(&params)),
        related_information,
        published: BTreeMap::new(),
    };
    server.serve()
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..Default::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..Default::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: semantic_tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The workspace folders, or the older single root.
#[allow(deprecated)] // `root_uri` and `root_path`: older clients send only these
fn roots(params: &InitializeParams) -> Vec<PathBuf> {
    let folders = params.workspace_folders.iter().flatten().map(|f| &f.uri);
    let mut roots: Vec<PathBuf> = folders
        .chain(params.root_uri.as_ref())
        .filter_map(|uri| uri.to_file_path().ok())
        .collect();
    if roots.is_empty() {
        roots.extend(params.root_path.as_ref().map(PathBuf::from));
    }
    roots
}

impl Server<'_> {
    fn serve(&mut self) -> bool {
        let mut shutting_down = false;
        while let Some(batch) = self.next_batch() {
            // Every buffer is brought up to date first, and checked once, so a burst of
            // keystrokes costs one check and requests see the newest text.
            let mut changed = false;
            let mut exit = false;
            let mut requests = Vec::new();
            for message in batch {
                match message {
                    Message::Request(request) => requests.push(request),
                    Message::Notification(notification) if notification.method == "exit" => {
                        exit = true;
                        break;
                    }
                    Message::Notification(notification) => {
                        let method = notification.method.clone();
                        let handled =
                            panic::catch_unwind(AssertUnwindSafe(|| self.handle(notification)));
                        match handled {
                            Ok(changes) => changed |= changes,
                            Err(_) => log(format_args!("the server failed on {method}")),
                        }
                    }
                    // The server sends no requests, so expects no responses.
                    Message::Response(_) => {}
                }
            }
            if changed
                && panic::catch_unwind(AssertUnwindSafe(|| self.publish_diagnostics())).is_err()
            {
                log("the server failed checking the documents");
            }
            for request in requests {
                shutting_down |= self.serve_request(request, shutting_down);
            }
            if exit {
                return shutting_down;
            }
        }
        false
    }

    /// The next message and every one already waiting behind it. After a change to a
    /// document, the next few are waited for as long as they come quickly (an editor that
    /// sends each keystroke), unless a request is waiting to be answered.
    fn next_batch(&self) -> Option<Vec<Message>> {
        let receiver = &self.connection.receiver;
        let mut batch = vec![receiver.recv().ok()?];
        let started = Instant::now();
        loop {
            batch.extend(receiver.try_iter());
            let waiting = batch.iter().any(|m| matches!(m, Message::Request(_)))
                || !batch.iter().any(changes_a_document)
                || started.elapsed() >= MAX_SETTLE;
            if waiting {
                return Some(batch);
            }
            match receiver.recv_timeout(QUIET) {
                Ok(message) => batch.push(message),
                // A pause, or the end of the input (noticed at the next `recv`).
                Err(_) => return Some(batch),
            }
        }
    }

    /// Answers one request; true when it was `shutdown`.
    fn serve_request(&self, request: Request, shutting_down: bool) -> bool {
        if shutting_down {
            self.send(Response::new_err(
                request.id,
                ErrorCode::InvalidRequest as i32,
                "the server is shutting down".into(),
            ));
            return false;
        }
        if request.method == "shutdown" {
            self.send(Response::new_ok(request.id, ()));
            return true;
        }
        let id = request.id.clone();
        let method = request.method.clone();
        let response = panic::catch_unwind(AssertUnwindSafe(|| self.answer(request)))
            .unwrap_or_else(|_| {
                Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    format!("the server failed on {method}; see its log"),
                )
            });
        self.send(response);
        false
    }

    fn send(&self, message: impl Into<Message>) {
        if self.connection.sender.send(message.into()).is_err() {
            log("the client is gone");
        }
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            Formatting::METHOD => self.reply::<Formatting>(request, |server, params| {
                let uri = &params.text_document.uri;
                Ok(server.document(uri).map(formatting::format_document))
            }),
            HoverRequest::METHOD => self.reply::<HoverRequest>(request, |server, params| {
                let at = params.text_document_position_params;
                Ok(server
                    .known(&at.text_document.uri)
                    .and_then(|uri| hover::hover(&server.workspace, uri, at.position)))
            }),
            GotoDefinition::METHOD => self.reply::<GotoDefinition>(request, |server, params| {
                let at = params.text_document_position_params;
                Ok(server
                    .known(&at.text_document.uri)
                    .and_then(|uri| navigation::definition(&server.workspace, uri, at.position))
                    .map(GotoDefinitionResponse::Scalar))
            }),
            References::METHOD => self.reply::<References>(request, |server, params| {
                let at = params.text_document_position;
                let include_declaration = params.context.include_declaration;
                Ok(server.known(&at.text_document.uri).and_then(|uri| {
                    navigation::references(&server.workspace, uri, at.position, include_declaration)
                }))
            }),
            Completion::METHOD => self.reply::<Completion>(request, |server, params| {
                let at = params.text_document_position;
                Ok(server
                    .known(&at.text_document.uri)
                    .and_then(|uri| completion::completion(&server.workspace, uri, at.position))
                    .map(CompletionResponse::Array))
            }),
            PrepareRenameRequest::METHOD => {
                self.reply::<PrepareRenameRequest>(request, |server, params| {
                    Ok(server.known(&params.text_document.uri).and_then(|uri| {
                        navigation::prepare_rename(&server.workspace, uri, params.position)
                    }))
                })
            }
            Rename::METHOD => self.reply::<Rename>(request, |server, params| {
                let at = params.text_document_position;
                let Some(uri) = server.known(&at.text_document.uri) else {
                    return Ok(None);
                };
                navigation::rename(&server.workspace, uri, at.position, &params.new_name)
                    .map(Some)
                    .map_err(|reason| ResponseError {
                        code: ErrorCode::RequestFailed as i32,
                        message: reason,
                        data: None,
                    })
            }),
            DocumentSymbolRequest::METHOD => {
                self.reply::<DocumentSymbolRequest>(request, |server, params| {
                    Ok(server
                        .document(&params.text_document.uri)
                        .and_then(document_symbols::document_symbols)
                        .map(DocumentSymbolResponse::Nested))
                })
            }
            CodeActionRequest::METHOD => {
                self.reply::<CodeActionRequest>(request, |server, params| {
                    let related = server.related_information;
                    Ok(server.known(&params.text_document.uri).and_then(|uri| {
                        code_actions::code_actions(&server.workspace, uri, params.range, related)
                    }))
                })
            }
            SemanticTokensFullRequest::METHOD => {
                self.reply::<SemanticTokensFullRequest>(request, |server, params| {
                    Ok(server
                        .known(&params.text_document.uri)
                        .and_then(|uri| semantic_tokens::semantic_tokens(&server.workspace, uri))
                        .map(SemanticTokensResult::Tokens))
                })
            }
            method => Err(ResponseError {
                code: ErrorCode::MethodNotFound as i32,
                message: format!("circuitcheck does not serve `{method}`"),
                data: None,
            }),
        };
        Response {
            id,
            response_result: result,
        }
    }

    /// Reads a request's parameters, runs the handler and serializes its result.
    fn reply<R>(
        &self,
        request: Request,
        handler: impl FnOnce(&Self, R::Params) -> Result<R::Result, ResponseError>,
    ) -> Result<serde_json::Value, ResponseError>
    where
        R: lsp_types::request::Request,
        R::Params: DeserializeOwned,
        R::Result: Serialize,
    {
        let params = serde_json::from_value::<R::Params>(request.params).map_err(|error| {
            log(format_args!(
                "invalid parameters for {}: {error}",
                R::METHOD
            ));
            ResponseError {
                code: ErrorCode::InvalidParams as i32,
                message: format!("invalid parameters for {}: {error}", R::METHOD),
                data: None,
            }
        })?;
        let result = handler(self, params)?;
        Ok(serde_json::to_value(result).expect("LSP results serialize"))
    }

    fn document(&self, uri: &Url) -> Option<&crate::lsp::document::Document> {
        self.known(uri).and_then(|uri| self.workspace.document(uri))
    }

    /// The URI when the document is open; requests about others get an empty answer.
    fn known<'u>(&self, uri: &'u Url) -> Option<&'u Url> {
        if self.workspace.document(uri).is_some() {
            Some(uri)
        } else {
            log(format_args!("request about {uri}, which is not open"));
            None
        }
    }

    /// Applies a notification; true when the documents' diagnostics may have changed.
    fn handle(&mut self, notification: Notification) -> bool {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(params) = params::<DidOpenTextDocument>(notification) else {
                    return false;
                };
                let document = params.text_document;
                self.workspace
                    .open(document.uri, document.version, document.text);
                true
            }
            DidChangeTextDocument::METHOD => {
                let Some(params) = params::<DidChangeTextDocument>(notification) else {
                    return false;
                };
                let uri = params.text_document.uri;
                let Some(document) = self.workspace.document_mut(&uri) else {
                    log(format_args!("change to {uri}, which is not open"));
                    return false;
                };
                document.version = params.text_document.version;
                // In order: a full text replaces everything before it, a range edits the
                // text the changes before it made.
                for change in params.content_changes {
                    document.apply(change);
                }
                true
            }
            DidCloseTextDocument::METHOD => {
                let Some(params) = params::<DidCloseTextDocument>(notification) else {
                    return false;
                };
                self.workspace.close(&params.text_document.uri);
                true
            }
            // A saved base may change what its variants inherit from the disk.
            DidSaveTextDocument::METHOD => true,
            method if method.starts_with("$/") || method == "initialized" => false,
            method => {
                log(format_args!("ignoring notification {method}"));
                false
            }
        }
    }

    /// Checks every open document again (a change to a base changes its variants) and
    /// tells the client about every file whose diagnostics changed, clearing those no
    /// longer checked.
    fn publish_diagnostics(&mut self) {
        let current = diagnostics::check(&self.workspace, self.related_information);
        let cleared: Vec<Url> = self
            .published
            .keys()
            .filter(|uri| !current.contains_key(*uri))
            .cloned()
            .collect();
        for uri in cleared {
            self.published.remove(&uri);
            self.send_diagnostics(uri, Vec::new());
        }
        for (uri, diagnostics) in current {
            if self.published.get(&uri) != Some(&diagnostics) {
                self.published.insert(uri.clone(), diagnostics.clone());
                self.send_diagnostics(uri, diagnostics);
            }
        }
    }

    fn send_diagnostics(&self, uri: Url, diagnostics: Vec<lsp_types::Diagnostic>) {
        let version = self.workspace.document(&uri).map(|d| d.version);
        let params = PublishDiagnosticsParams::new(uri, diagnostics, version);
        self.send(Notification::new(PublishDiagnostics::METHOD.into(), params));
    }
}

/// Notifications after which the server waits a moment for more before checking.
fn changes_a_document(message: &Message) -> bool {
    matches!(message, Message::Notification(n)
        if n.method == DidChangeTextDocument::METHOD || n.method == DidOpenTextDocument::METHOD)
}

fn params<N: lsp_types::notification::Notification>(notification: Notification) -> Option<N::Params>
where
    N::Params: DeserializeOwned,
{
    match serde_json::from_value(notification.params) {
        Ok(params) => Some(params),
        Err(error) => {
            log(format_args!(
                "invalid parameters for {}: {error}",
                N::METHOD
            ));
            None
        }
    }
}
