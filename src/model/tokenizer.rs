//! The GPT-2 byte-level BPE tokenizer, loaded through the `tokenizers` crate from either a
//! `tokenizer.json` or the original `vocab.json` + `merges.txt` pair.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use miette::Diagnostic;
use thiserror::Error;
use tokenizers::AddedToken;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use crate::model::bpe_file;

pub const END_OF_TEXT: &str = "<|endoftext|>";

#[derive(Debug, Error, Diagnostic)]
pub enum TokenizerError {
    #[error("no tokenizer in {}", dir.display())]
    #[diagnostic(
        code(tokenizer::missing),
        help("put `tokenizer.json`, or `vocab.json` and `merges.txt`, in that directory")
    )]
    Missing { dir: PathBuf },
    #[error("cannot load tokenizer from {}: {reason}", path.display())]
    #[diagnostic(
        code(tokenizer::invalid),
        help("the file must be a Hugging Face tokenizer file (or GPT-2 vocab.json + merges.txt)")
    )]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot tokenize {text:?}: {reason}")]
    #[diagnostic(code(tokenizer::encode))]
    Encode { text: String, reason: String },
}

/// A loaded tokenizer. Encoding adds no special tokens: GPT-2 prompts in the IOI paper
/// have no BOS token.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    source: PathBuf,
    /// The special tokens the tokenizer puts before a text (Llama-3's
    /// `<|begin_of_text|>`; none for GPT-2, Pythia and Qwen2), which every prompt starts with.
    prefix: Vec<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("source", &self.source)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

impl Tokenizer {
    /// Loads `tokenizer.json` from `dir`, or else `vocab.json` + `merges.txt`.
    pub fn from_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let json = dir.join("tokenizer.json");
        if json.is_file() {
            return Self::from_tokenizer_json(&json);
        }
        let vocab = dir.join("vocab.json");
        let merges = dir.join("merges.txt");
        if vocab.is_file() && merges.is_file() {
            return Self::from_vocab_and_merges(&vocab, &merges);
        }
        Err(TokenizerError::Missing {
            dir: dir.to_path_buf(),
        })
    }

    pub fn from_tokenizer_json(path: &Path) -> Result<Self, TokenizerError> {
        let invalid = |reason: String| TokenizerError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let text = crate::input::read_text(path).map_err(|e| invalid(e.to_string()))?;
        Self::from_tokenizer_json_text(&text, path)
    }

    /// A `tokenizer.json` already read; `path` names it in errors.
    pub fn from_tokenizer_json_text(text: &str, path: &Path) -> Result<Self, TokenizerError> {
        let invalid = |reason: String| TokenizerError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        bpe_file::check_tokenizer_json(&json).map_err(invalid)?;
        let inner = tokenizers::Tokenizer::from_str(text).map_err(|e| invalid(e.to_string()))?;
        Ok(Self::new(inner, path))
    }

    /// Builds GPT-2's byte-level BPE from the original vocabulary and merge files.
    pub fn from_vocab_and_merges(vocab: &Path, merges: &Path) -> Result<Self, TokenizerError> {
        let read = |path: &Path| {
            crate::input::read_text(path).map_err(|e| TokenizerError::Invalid {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        };
        Self::from_vocab_and_merges_text(&read(vocab)?, &read(merges)?, vocab)
    }

    /// `vocab.json` and `merges.txt` already read; `path` names the vocabulary in errors.
    pub fn from_vocab_and_merges_text(
        vocab: &str,
        merges: &str,
        path: &Path,
    ) -> Result<Self, TokenizerError> {
        let invalid = |reason: String| TokenizerError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (vocab, merges) = bpe_file::parse(vocab, merges).map_err(invalid)?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        // GPT-2's end-of-text marker is a special token, never split by BPE.
        if inner.token_to_id(END_OF_TEXT).is_some() {
            inner
                .add_special_tokens([AddedToken::from(END_OF_TEXT, true)])
                .map_err(|e| invalid(e.to_string()))?;
        }
        Ok(Self::new(inner, path))
    }

    fn new(inner: tokenizers::Tokenizer, path: &Path) -> Self {
        // What the post-processor adds before a text: the ids of "a" with special tokens, up
        // to where those without begin (an end-of-text it may add after is not wanted
        // before a prediction).
        let ids = |special: bool| {
            inner
                .encode("a", special)
                .map(|e| e.get_ids().to_vec())
                .unwrap_or_default()
        };
        let (with, without) = (ids(true), ids(false));
        let prefix = (0..=with.len().saturating_sub(without.len()))
            .find(|at| with[*at..].starts_with(&without))
            .map(|at| with[..at].to_vec())
            .unwrap_or_default();
        Self {
            inner,
            source: path.to_path_buf(),
            prefix,
        }
    }

    /// Where this tokenizer was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Number of token ids, added (special) tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    fn encoding(&self, text: &str) -> Result<tokenizers::Encoding, TokenizerError> {
        self.inner
            .encode(text, false)
            .map_err(|e| TokenizerError::Encode {
                text: text.to_string(),
                reason: e.to_string(),
            })
    }

    /// The tokens of a piece of text (a word, an answer), without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.encoding(text)?.get_ids().to_vec())
    }

    /// The tokens of a prompt as the model reads it: after the special tokens the tokenizer
    /// puts before every text (see `prefix`).
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        Ok([self.prefix.clone(), self.encode(text)?].concat())
    }

    /// A prompt's tokens (as `encode_prompt`) with the byte range of `text` each covers; the
    /// special tokens before it cover none.
    pub fn encode_prompt_with_offsets(
        &self,
        text: &str,
    ) -> Result<Vec<(u32, ByteRange)>, TokenizerError> {
        let encoding = self.encoding(text)?;
        let prefix = self.prefix.iter().map(|id| (*id, (0, 0)));
        let text = encoding
            .get_ids()
            .iter()
            .copied()
            .zip(encoding.get_offsets().iter().copied());
        Ok(prefix.chain(text).collect())
    }

    /// The id of `text` if it is exactly one token, e.g. `" Mary"`.
    pub fn single_token(&self, text: &str) -> Option<u32> {
        match self.encode(text).ok()?.as_slice() {
            [id] => Some(*id),
            _ => None,
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// The text of one token as a user would read it (byte-level symbols decoded).
    pub fn token_text(&self, id: u32) -> String {
        self.decode(&[id])
    }
}

/// `[start, end)` byte offsets into a prompt.
pub type ByteRange = (usize, usize);
