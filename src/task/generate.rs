//! Making datasets: filling templates from seeded draws (ChaCha8, stable across platforms),
//! finding named positions in the token sequence, and building each prompt's reference
//! counterpart with the same token layout.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::model::Tokenizer;
use crate::model::tokenizer::ByteRange;
use crate::task::dataset::Prompt;
use crate::task::error::TaskError;
use crate::task::spec::{ExplicitPrompt, ExtraReference};
use crate::task::template::{Anchor, Segment};
use crate::task::{Answer, Generated, Template};

type Made = (Vec<String>, Vec<Prompt>, Vec<Prompt>);

/// Words per (placeholder, occurrence).
type Fill = BTreeMap<(String, usize), String>;

pub fn generated(
    task: &Generated,
    tokenizer: &Tokenizer,
    n: usize,
    seed: u64,
) -> Result<Made, TaskError> {
    let vocabulary = single_tokens(task, tokenizer)?;
    let available = distinct_prompts(task);
    if n as u128 > available {
        return Err(TaskError::TooManyPrompts {
            asked: n,
            available,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut groups: Vec<String> = Vec::new();
    let mut prompts = Vec::with_capacity(n);
    let mut reference = Vec::with_capacity(n);
    for i in 0..n {
        let family = &task.families[i % task.families.len()];
        let mut attempts = 0;
        let (index, fill) = loop {
            let index = *family.choose(&mut rng).expect("families have templates");
            let fill = draw(task, &task.templates[index], &mut rng);
            let text = realize(&task.templates[index], &fill).0;
            if seen.insert(text) {
                break (index, fill);
            }
            attempts += 1;
            if attempts > 10_000 {
                return Err(TaskError::TooManyPrompts {
                    asked: n,
                    available: seen.len() as u128,
                });
            }
        };
        let template = &task.templates[index];
        let group = match groups.iter().position(|g| *g == template.name) {
            Some(g) => g,
            None => {
                groups.push(template.name.clone());
                groups.len() - 1
            }
        };
        let prompt = make_prompt(task, template, &fill, &vocabulary, group, i)?;
        let counterpart_fill = counterpart(task, &fill, &mut rng);
        let counterpart = make_prompt(task, template, &counterpart_fill, &vocabulary, group, i)?;
        if counterpart.tokens.len() != prompt.tokens.len()
            || counterpart.positions != prompt.positions
        {
            return Err(TaskError::Prompt {
                index: i,
                message: format!(
                    "the reference prompt {:?} does not share the token layout of {:?}",
                    counterpart.text, prompt.text
                ),
            });
        }
        prompts.push(prompt);
        reference.push(counterpart);
    }
    Ok((groups, prompts, reference))
}

/// `count` more reference prompts of the template named `group` (index `group_index`), drawn
/// as the prompts' own counterparts are: a fresh filling, then its counterpart.
pub fn more_references(
    task: &Generated,
    tokenizer: &Tokenizer,
    group: &str,
    group_index: usize,
    count: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Prompt>, TaskError> {
    let Some(template) = task.templates.iter().find(|t| t.name == group) else {
        return Ok(Vec::new());
    };
    let vocabulary = single_tokens(task, tokenizer)?;
    (0..count)
        .map(|i| {
            let fill = draw(task, template, rng);
            let reference = counterpart(task, &fill, rng);
            make_prompt(task, template, &reference, &vocabulary, group_index, i)
        })
        .collect()
}

/// The tokenizer, and the id of every text the task needs as one token (looked up once per
/// dataset, not per prompt: an answer set may hold many words).
struct Vocabulary<'a> {
    tokenizer: &'a Tokenizer,
    ids: HashMap<String, u32>,
}

/// Every word must be one token where it goes: placeholders' words (and the reference's
/// set words) where the templates put them, answer and distractor words as the next token.
fn single_tokens<'a>(
    task: &Generated,
    tokenizer: &'a Tokenizer,
) -> Result<Vocabulary<'a>, TaskError> {
    let mut ids = HashMap::new();
    let mut offenders = BTreeSet::new();
    for text in token_texts(task) {
        match tokenizer.single_token(&text) {
            Some(id) => {
                ids.insert(text, id);
            }
            None => {
                offenders.insert(format!("\"{text}\""));
            }
        }
    }
    if offenders.is_empty() {
        return Ok(Vocabulary { tokenizer, ids });
    }
    Err(TaskError::MultiToken {
        count: offenders.len(),
        offenders: offenders.into_iter().collect::<Vec<_>>().join(", "),
    })
}

/// The texts that must each be one token.
fn token_texts(task: &Generated) -> BTreeSet<String> {
    let mut texts = BTreeSet::new();
    let (spaced_slots, bare_slots) = slot_forms(task);
    for (placeholder, words) in &task.words {
        let spaced = spaced_slots.contains(placeholder.as_str());
        let bare = bare_slots.contains(placeholder.as_str());
        for word in words.iter().chain(task.set.get(placeholder)) {
            if spaced {
                texts.insert(format!(" {word}"));
            }
            if bare {
                texts.insert(word.clone());
            }
        }
    }
    for answer in [&task.answer, &task.distractor] {
        let words: &[String] = match answer {
            Answer::Word(placeholder) => &task.words[placeholder],
            Answer::Compared { words, .. } => words,
        };
        texts.extend(words.iter().map(|w| answer_text(task, w)));
    }
    texts
}

/// The placeholders whose slots follow a space (most), and those with slots that do not (the
/// start of the text, after punctuation, or inside a word as greater-than's `17[YY]`), in
/// one pass over the templates (per placeholder, thousands of slots made it quadratic).
fn slot_forms(task: &Generated) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let mut spaced = BTreeSet::new();
    let mut bare = BTreeSet::new();
    for template in &task.templates {
        let mut previous: Option<&Segment> = None;
        for segment in &template.segments {
            if let Segment::Slot(placeholder) = segment {
                match previous {
                    Some(Segment::Text(t)) if t.ends_with(' ') => {
                        spaced.insert(placeholder.as_str())
                    }
                    _ => bare.insert(placeholder.as_str()),
                };
            }
            previous = Some(segment);
        }
    }
    (spaced, bare)
}

/// An answer word as the next token reads it.
fn answer_text(task: &Generated, word: &str) -> String {
    if task.leading_space {
        format!(" {word}")
    } else {
        word.to_string()
    }
}

/// The number of distinct fillings over all templates.
pub fn distinct_prompts(task: &Generated) -> u128 {
    let mut total: u128 = 0;
    for template in &task.templates {
        let used: BTreeSet<&String> = template
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Slot(p) => Some(p),
                Segment::Text(_) => None,
            })
            .collect();
        let mut count: u128 = 1;
        // Placeholders that must differ and share a list draw without replacement.
        let mut taken: BTreeMap<&str, u128> = BTreeMap::new();
        for placeholder in used {
            let size = task.words[placeholder].len() as u128;
            let constrained = task.distinct.iter().any(|g| g.contains(placeholder));
            let list = task.list_of[placeholder].as_str();
            let already = if constrained {
                *taken.get(list).unwrap_or(&0)
            } else {
                0
            };
            count = count.saturating_mul(size.saturating_sub(already));
            if constrained {
                *taken.entry(list).or_default() += 1;
            }
        }
        total = total.saturating_add(count);
    }
    total
}

fn must_differ(task: &Generated, a: &str, b: &str) -> bool {
    task.distinct.iter().any(|g| g.contains(a) && g.contains(b))
}

/// One word per placeholder, the same for all its occurrences.
fn draw(task: &Generated, template: &Template, rng: &mut ChaCha8Rng) -> Fill {
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    let mut fill = Fill::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for segment in &template.segments {
        let Segment::Slot(placeholder) = segment else {
            continue;
        };
        let nth = {
            let count = counts.entry(placeholder.clone()).or_default();
            *count += 1;
            *count
        };
        if !chosen.contains_key(placeholder) {
            let options: Vec<&String> = task.words[placeholder]
                .iter()
                .filter(|w| {
                    !chosen
                        .iter()
                        .any(|(other, word)| word == *w && must_differ(task, placeholder, other))
                })
                .collect();
            let word = options
                .choose(rng)
                .map_or_else(|| task.words[placeholder][0].clone(), |w| (*w).clone());
            chosen.insert(placeholder.clone(), word);
        }
        fill.insert((placeholder.clone(), nth), chosen[placeholder].clone());
    }
    fill
}

/// The reference counterpart: resampled occurrences get fresh words, distinct from each other
/// and from every word of their list that stays; set placeholders get their fixed word.
fn counterpart(task: &Generated, fill: &Fill, rng: &mut ChaCha8Rng) -> Fill {
    let mut out = resample(task, fill, rng);
    for ((placeholder, _), word) in out.iter_mut() {
        if let Some(fixed) = task.set.get(placeholder) {
            word.clone_from(fixed);
        }
    }
    out
}

fn resample(task: &Generated, fill: &Fill, rng: &mut ChaCha8Rng) -> Fill {
    let resampled: BTreeSet<&(String, usize)> = task.resample.iter().collect();
    let mut out = fill.clone();
    let mut taken: BTreeSet<(String, String)> = fill
        .iter()
        .filter(|(key, _)| !resampled.contains(key))
        .map(|((placeholder, _), word)| (task.list_of[placeholder].clone(), word.clone()))
        .collect();
    for key in &task.resample {
        let list = &task.list_of[&key.0];
        let options: Vec<&String> = task.words[&key.0]
            .iter()
            .filter(|w| !taken.contains(&(list.clone(), (*w).clone())))
            .collect();
        if let Some(word) = options.choose(rng) {
            taken.insert((list.clone(), (*word).clone()));
            out.insert(key.clone(), (*word).clone());
        }
    }
    out
}

/// The text of a filled template and the byte span of every placeholder occurrence.
fn realize(template: &Template, fill: &Fill) -> (String, BTreeMap<(String, usize), ByteRange>) {
    let mut text = String::new();
    let mut spans = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for segment in &template.segments {
        match segment {
            Segment::Text(t) => text.push_str(t),
            Segment::Slot(placeholder) => {
                let count = counts.entry(placeholder).or_default();
                *count += 1;
                let key = (placeholder.clone(), *count);
                let start = text.len();
                text.push_str(&fill[&key]);
                spans.insert(key, (start, text.len()));
            }
        }
    }
    (text, spans)
}

fn make_prompt(
    task: &Generated,
    template: &Template,
    fill: &Fill,
    vocabulary: &Vocabulary,
    group: usize,
    index: usize,
) -> Result<Prompt, TaskError> {
    let (text, spans) = realize(template, fill);
    let encoded = vocabulary.tokenizer.encode_prompt_with_offsets(&text)?;
    let tokens: Vec<u32> = encoded.iter().map(|(id, _)| *id).collect();
    no_tokens(&tokens, &text, index)?;
    // Each occurrence is exactly one token: the one ending where the word ends and starting
    // at the word (or at the space before it).
    let mut token_of: BTreeMap<&(String, usize), usize> = BTreeMap::new();
    let in_order = encoded
        .windows(2)
        .all(|w| w[0].1.0 <= w[1].1.0 && w[0].1.1 <= w[1].1.1);
    for (key, (start, end)) in &spans {
        let covering = overlapping(&encoded, in_order, *start, *end);
        let exact = match covering.as_slice() {
            [i] => {
                let (s, e) = encoded[*i].1;
                // Offsets come from the tokenizer: never trust them to slice with.
                e == *end && text.get(s..*start).is_some_and(|gap| gap.trim().is_empty())
            }
            _ => false,
        };
        if !exact {
            return Err(TaskError::Prompt {
                index,
                message: format!("{:?} is not one token in {text:?}", &text[*start..*end]),
            });
        }
        token_of.insert(key, covering[0]);
    }
    let mut positions = BTreeMap::new();
    for (name, anchor) in task_positions(task) {
        let at = match anchor {
            Anchor::End => tokens.len() as i64 - 1,
            Anchor::Occurrence {
                placeholder,
                nth,
                offset,
            } => (token_of[&(placeholder.clone(), *nth)] as i64).saturating_add(*offset),
        };
        if at < 0 || at >= tokens.len() as i64 {
            return Err(TaskError::Prompt {
                index,
                message: format!("position {name} falls outside {text:?}"),
            });
        }
        positions.insert(name.clone(), at as usize);
    }
    Ok(Prompt {
        answer: answer_tokens(task, &task.answer, fill, vocabulary),
        distractor: answer_tokens(task, &task.distractor, fill, vocabulary),
        text,
        tokens,
        positions,
        group,
    })
}

/// The tokens one side of the metric reads for this filling.
fn answer_tokens(
    task: &Generated,
    answer: &Answer,
    fill: &Fill,
    vocabulary: &Vocabulary,
) -> Vec<u32> {
    let filling = |placeholder: &str| &fill[&(placeholder.to_string(), 1)];
    let words: &[String] = match answer {
        Answer::Word(placeholder) => std::slice::from_ref(filling(placeholder)),
        Answer::Compared { placeholder, .. } => answer
            .compared_words(filling(placeholder))
            .expect("every word a compared placeholder takes was checked with the task"),
    };
    words
        .iter()
        .map(|word| vocabulary.ids[&answer_text(task, word)])
        .collect()
}

/// Indices of the tokens overlapping `start..end`. Tokens come in text order, so the first
/// is a binary search away (filtering all tokens for each slot made templates with
/// thousands of slots quadratic); offsets out of order fall back to the filter.
fn overlapping(
    encoded: &[(u32, ByteRange)],
    in_order: bool,
    start: usize,
    end: usize,
) -> Vec<usize> {
    let overlaps = |(s, e): ByteRange| s < end && e > start;
    if !in_order {
        return (0..encoded.len())
            .filter(|&i| overlaps(encoded[i].1))
            .collect();
    }
    let first = encoded.partition_point(|(_, (_, e))| *e <= start);
    encoded[first..]
        .iter()
        .take_while(|(_, (s, _))| *s < end)
        .enumerate()
        .filter(|(_, (_, range))| overlaps(*range))
        .map(|(i, _)| first + i)
        .collect()
}

/// A tokenizer without a token for some characters drops them: a prompt of only such
/// characters has no last token to read the logits at.
fn no_tokens(tokens: &[u32], text: &str, index: usize) -> Result<(), TaskError> {
    if tokens.is_empty() {
        return Err(TaskError::Prompt {
            index,
            message: format!("the tokenizer makes no token of {text:?}"),
        });
    }
    Ok(())
}

fn task_positions(task: &Generated) -> impl Iterator<Item = (&String, &Anchor)> {
    task.position_names.iter().zip(&task.anchors)
}

pub fn explicit(
    prompts: &[ExplicitPrompt],
    position_names: &[String],
    tokenizer: &Tokenizer,
    n: usize,
) -> Result<Made, TaskError> {
    if n > prompts.len() {
        return Err(TaskError::TooManyListedPrompts {
            asked: n,
            available: prompts.len(),
        });
    }
    let mut groups: Vec<String> = Vec::new();
    // Group name → (its index, its first prompt's index), found in constant time.
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut out: Vec<Prompt> = Vec::new();
    let mut reference = Vec::new();
    for (index, spec) in prompts.iter().take(n).enumerate() {
        let (group, first) = *seen.entry(&spec.group).or_insert_with(|| {
            groups.push(spec.group.clone());
            (groups.len() - 1, index)
        });
        let ids = |words: &[String]| -> Result<Vec<u32>, TaskError> {
            words
                .iter()
                .map(|w| {
                    tokenizer.single_token(w).ok_or(TaskError::MultiToken {
                        count: 1,
                        offenders: format!("{w:?}"),
                    })
                })
                .collect()
        };
        let make = |text: &str| -> Result<Prompt, TaskError> {
            let tokens = tokenizer.encode_prompt(text)?;
            no_tokens(&tokens, text, index)?;
            for name in position_names {
                let at = spec.positions[name];
                if at >= tokens.len() {
                    return Err(TaskError::Prompt {
                        index,
                        message: format!(
                            "position {name} = {at} is past the last token of {text:?}"
                        ),
                    });
                }
            }
            Ok(Prompt {
                text: text.to_string(),
                tokens,
                positions: spec.positions.clone(),
                group,
                answer: ids(&spec.answer)?,
                distractor: ids(&spec.distractor)?,
            })
        };
        let prompt = make(&spec.text)?;
        let counterpart = make(&spec.reference)?;
        if counterpart.tokens.len() != prompt.tokens.len() {
            return Err(TaskError::Prompt {
                index,
                message: "the reference prompt has a different number of tokens".into(),
            });
        }
        // Mean ablation averages a group position by position: its prompts must line up.
        if let Some(first) = out.get(first)
            && (first.tokens.len() != prompt.tokens.len() || first.positions != prompt.positions)
        {
            return Err(TaskError::Prompt {
                index,
                message: format!(
                    "its {} tokens and positions do not line up with the earlier prompt {:?} of group `{}` ({} tokens); prompts of a group share their token layout",
                    prompt.tokens.len(),
                    first.text,
                    spec.group,
                    first.tokens.len()
                ),
            });
        }
        out.push(prompt);
        reference.push(counterpart);
    }
    Ok((groups, out, reference))
}

/// The extra reference prompts an explicit task lists for `group`, in the file's order, each
/// with the token layout and positions of the group's prompts (`layout` is one of them).
pub fn extra_references(
    extra: &[ExtraReference],
    group: &str,
    layout: &Prompt,
    tokenizer: &Tokenizer,
) -> Result<Vec<Prompt>, TaskError> {
    extra
        .iter()
        .filter(|e| e.group == group)
        .map(|e| {
            let tokens = tokenizer.encode_prompt(&e.text)?;
            if tokens.len() != layout.tokens.len() {
                return Err(TaskError::ExtraReference {
                    group: group.to_string(),
                    text: e.text.clone(),
                    tokens: tokens.len(),
                    expected: layout.tokens.len(),
                });
            }
            Ok(Prompt {
                text: e.text.clone(),
                tokens,
                ..layout.clone()
            })
        })
        .collect()
}
