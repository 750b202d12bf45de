//! The message loop: the handshake, then each request answered and each notification
//! handled in turn. Nothing a client sends stops the server but `exit`: a request it
//! cannot serve gets an error response, a notification it cannot use a line on stderr.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response, ResponseError};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    Completion, Formatting, GotoDefinition, HoverRequest, PrepareRenameRequest, References, Rename,
    Request as _,
};
use lsp_types::{
    CompletionOptions, CompletionResponse, GotoDefinitionResponse, HoverProviderCapability,
    InitializeParams, InitializeResult, OneOf, PositionEncodingKind, PublishDiagnosticsParams,
    RenameOptions, SaveOptions, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Url,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::lsp::workspace::Workspace;
use crate::lsp::{completion, diagnostics, formatting, hover, log, navigation};

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
        for message in &self.connection.receiver {
            match message {
                Message::Request(request) if shutting_down => {
                    self.send(Response::new_err(
                        request.id,
                        ErrorCode::InvalidRequest as i32,
                        "the server is shutting down".into(),
                    ));
                }
                Message::Request(request) if request.method == "shutdown" => {
                    shutting_down = true;
                    self.send(Response::new_ok(request.id, ()));
                }
                Message::Request(request) => {
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
                }
                Message::Notification(notification) if notification.method == "exit" => {
                    return shutting_down;
                }
                Message::Notification(notification) => {
                    let method = notification.method.clone();
                    let handled =
                        panic::catch_unwind(AssertUnwindSafe(|| self.handle(notification)));
                    if handled.is_err() {
                        log(format_args!("the server failed on {method}"));
                    }
                }
                // The server sends no requests, so expects no responses.
                Message::Response(_) => {}
            }
        }
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

    fn handle(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Some(params) = params::<DidOpenTextDocument>(notification) {
                    let document = params.text_document;
                    self.workspace
                        .open(document.uri, document.version, document.text);
                    self.publish_diagnostics();
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Some(params) = params::<DidChangeTextDocument>(notification) {
                    let uri = params.text_document.uri;
                    let Some(document) = self.workspace.document_mut(&uri) else {
                        log(format_args!("change to {uri}, which is not open"));
                        return;
                    };
                    document.version = params.text_document.version;
                    for change in params.content_changes {
                        document.apply(change);
                    }
                    self.publish_diagnostics();
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Some(params) = params::<DidCloseTextDocument>(notification) {
                    self.workspace.close(&params.text_document.uri);
                    self.publish_diagnostics();
                }
            }
            // A saved base may change what its variants inherit from the disk.
            DidSaveTextDocument::METHOD => self.publish_diagnostics(),
            method if method.starts_with("$/") || method == "initialized" => {}
            method => log(format_args!("ignoring notification {method}")),
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
