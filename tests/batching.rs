//! Batching never changes a figure: any set of variants scored together (one batch, shared
//! prefixes, bases run first) gives what each variant gives when scored alone, at node and
//! edge level, on prompts of different token lengths and on prompt subsets shorter than the
//! dataset's longest prompt.

use crate::common;

use std::collections::BTreeSet;

use candle_core::Device;
use circuitcheck::dsl::{Ablation, Circuit, Head, Level};
use circuitcheck::eval::reference::ReferenceActivations;
use circuitcheck::eval::runner::Runner;
use circuitcheck::eval::variant::{Scope, Variant};
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::task::{Dataset, Task};
use proptest::prelude::*;

struct Fixture {
    _dir: tempfile::TempDir,
    loaded: LoadedModel,
    dataset: Dataset,
    circuit: Circuit,
    reference: ReferenceActivations,
}

const CIRCUIT: &str = "circuit c {
  model gpt2-small
  task ioi
}
mlp 0 2 at all
mlp 1 at END
class a at S2, S1+1 { 0.1 0.2 }
class b at all { 1.3 }
class c at END { 1.1 2.0 2.2 }
class e at S2 { 2.1 2.3 }
edge embed -> a, b.v, c.q, e
edge a -> b.k, c.v, mlp.1
edge b -> e
edge mlp.0 -> c.k
edge c -> mlp.2
edge c, e, embed, mlp.2 -> logits
";

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let common::fixture::Fixture { dir, circuit, .. } =
            common::fixture::Fixture::ioi(7, CIRCUIT);
        let loaded =
            LoadedModel::load(ModelFiles::in_dir(dir.path()).unwrap(), &Device::Cpu).unwrap();
        let dataset = Task::builtin("ioi")
            .unwrap()
            .dataset(&loaded.tokenizer, 12, 11)
            .unwrap();
        let lengths: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.tokens.len()).collect();
        assert!(
            lengths.len() > 2,
            "prompts of different lengths: {lengths:?}"
        );
        let reference =
            ReferenceActivations::compute(&loaded.model, &dataset, Ablation::Mean, 0).unwrap();
        Fixture {
            _dir: dir,
            loaded,
            dataset,
            circuit,
            reference,
        }
    })
}

fn runner<'a>(f: &'a Fixture, level: Level, prompts: &[usize]) -> Runner<'a> {
    Runner::new(
        &f.loaded.model,
        &f.dataset,
        &f.reference,
        &f.circuit,
        level,
        prompts.to_vec(),
    )
}

/// A runner whose groups take `pass_cost` as the cost of one more pass.
fn costing<'a>(f: &'a Fixture, level: Level, prompts: &[usize], pass_cost: usize) -> Runner<'a> {
    Runner::with_pass_cost(
        &f.loaded.model,
        &f.dataset,
        &f.reference,
        &f.circuit,
        level,
        prompts.to_vec(),
        pass_cost,
    )
}

/// A runner that gives each prompt length its own group.
fn grouped<'a>(f: &'a Fixture, level: Level, prompts: &[usize]) -> Runner<'a> {
    costing(f, level, prompts, 0)
}

/// The plain path: one group padded to the longest prompt, every variant a full or resumed
/// pass.
fn plain<'a>(f: &'a Fixture, level: Level, prompts: &[usize]) -> Runner<'a> {
    let mut runner = costing(f, level, prompts, usize::MAX / 2);
    runner.windows = false;
    runner
}

fn variant() -> impl Strategy<Value = Variant> {
    let heads: Vec<Head> = (0..3)
        .flat_map(|l| (0..4).map(move |h| Head::new(l, h)))
        .collect();
    (
        prop_oneof![Just(Scope::Model), Just(Scope::Circuit), Just(Scope::Empty)],
        proptest::sample::subsequence(heads, 0..=3),
    )
        .prop_map(|(scope, k)| Variant::new(scope, k.into_iter().collect()))
}

fn assert_same(together: &[f64], alone: &[f64], what: &str) {
    for (a, b) in together.iter().zip(alone) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{what}: {a} together, {b} alone"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn variants_scored_together_equal_variants_scored_alone(
        variants in proptest::collection::vec(variant(), 1..7),
        edge in any::<bool>(),
        subset in proptest::sample::subsequence((0..12).collect::<Vec<usize>>(), 1..=12),
    ) {
        let f = fixture();
        let level = if edge { Level::Edge } else { Level::Node };
        let together = runner(f, level, &subset).scores(&variants).unwrap();
        for (variant, scores) in variants.iter().zip(&together) {
            let alone = runner(f, level, &subset).scores(std::slice::from_ref(variant)).unwrap();
            assert_same(scores, &alone[0], &format!("{variant} at {level:?} level"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Prompts scored in groups of one length each, with windows (only the positions that
    /// can change) and ∅ at the readout's positions only, give what one padded plain group
    /// gives, on bases a search keeps too.
    #[test]
    fn groups_by_length_give_what_one_plain_group_gives(
        bases in proptest::collection::vec(variant(), 0..3),
        variants in proptest::collection::vec(variant(), 1..6),
        edge in any::<bool>(),
        subset in proptest::sample::subsequence((0..12).collect::<Vec<usize>>(), 1..=12),
    ) {
        let f = fixture();
        let level = if edge { Level::Edge } else { Level::Node };
        let mut fast = grouped(f, level, &subset);
        fast.keep_bases(&bases).unwrap();
        let variants: Vec<Variant> = variants
            .iter()
            .chain(&bases)
            .flat_map(|v| [v.clone(), v.without([Head::new(2, 1)])])
            .collect();
        let fast_scores = fast.scores(&variants).unwrap();
        let slow = plain(f, level, &subset).scores(&variants).unwrap();
        for (variant, (a, b)) in variants.iter().zip(fast_scores.iter().zip(&slow)) {
            assert_same(a, b, &format!("{variant} at {level:?} level, grouped against plain"));
        }
    }
}

#[test]
fn groups_split_prompts_by_length() {
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let lengths: BTreeSet<usize> = all
        .iter()
        .map(|p| f.dataset.prompts[*p].tokens.len())
        .collect();
    let mut grouped = grouped(f, Level::Node, &all);
    grouped.scores(&[Variant::model()]).unwrap();
    // One full pass per length.
    assert_eq!(grouped.passes(), lengths.len());
    let mut one = plain(f, Level::Node, &all);
    one.scores(&[Variant::model()]).unwrap();
    assert_eq!(one.passes(), 1);
    // Each length's own positions only: fewer than one group padded to the longest.
    let layers = f.loaded.model.config().n_layer;
    let positions: usize = all.iter().map(|p| f.dataset.prompts[*p].tokens.len()).sum();
    assert_eq!(grouped.work(), positions * layers);
    let longest = *lengths.last().unwrap();
    assert_eq!(one.work(), 12 * longest * layers);
}

#[test]
fn empty_is_computed_at_the_readout_only() {
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let mut fast = runner(f, Level::Node, &all);
    let scores = fast.scores(&[Variant::empty()]).unwrap();
    let layers = f.loaded.model.config().n_layer;
    // END is each prompt's last position: one column per prompt.
    assert_eq!(fast.work(), 12 * layers);
    let slow = plain(f, Level::Node, &all)
        .scores(&[Variant::empty()])
        .unwrap();
    assert_same(&scores[0], &slow[0], "∅ at the readout against a full pass");
}

#[test]
fn a_window_recomputes_only_positions_where_heads_are_kept() {
    // C \ {2.0}: 2.0 is kept at END only; from layer 2 the heads kept are 2.0, 2.2 (END),
    // 2.1, 2.3 (S2): the window holds END alone, one column.
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let mut fast = runner(f, Level::Node, &all);
    fast.scores(&[Variant::circuit()]).unwrap();
    let before = fast.work();
    let variant = Variant::circuit().without([Head::new(2, 0)]);
    let scores = fast.scores(std::slice::from_ref(&variant)).unwrap();
    let layers = f.loaded.model.config().n_layer;
    assert_eq!(fast.work() - before, 12 * (layers - 2));
    let slow = plain(f, Level::Node, &all)
        .scores(std::slice::from_ref(&variant))
        .unwrap();
    assert_same(&scores[0], &slow[0], "C \\ {2.0} by window against plain");
}

#[test]
fn a_subset_scores_its_prompts_as_the_whole_dataset_does() {
    let f = fixture();
    let variants = [
        Variant::model(),
        Variant::circuit(),
        Variant::circuit().without([Head::new(2, 0)]),
        Variant::model().without([Head::new(0, 1), Head::new(1, 3)]),
    ];
    // The shortest prompts only: the batch is shorter than the dataset's longest prompt.
    let mut by_length: Vec<usize> = (0..12).collect();
    by_length.sort_by_key(|p| f.dataset.prompts[*p].tokens.len());
    let short = &by_length[..4];
    for level in [Level::Node, Level::Edge] {
        let all = runner(f, level, &(0..12).collect::<Vec<_>>())
            .scores(&variants)
            .unwrap();
        let some = runner(f, level, short).scores(&variants).unwrap();
        for (v, (all, some)) in variants.iter().zip(all.iter().zip(&some)) {
            let picked: Vec<f64> = short.iter().map(|p| all[*p]).collect();
            assert_same(some, &picked, &format!("{v} at {level:?} level"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Causal reuse: a variant of C recomputed only from its first changed position on, with
    /// C's keys and values before it, scores what the plain pass scores.
    #[test]
    fn windows_give_what_the_plain_path_gives(
        variants in proptest::collection::vec(variant(), 1..6),
        subset in proptest::sample::subsequence((0..12).collect::<Vec<usize>>(), 1..=12),
    ) {
        let f = fixture();
        let mut windowed = runner(f, Level::Node, &subset);
        let mut plain = runner(f, Level::Node, &subset);
        plain.windows = false;
        let fast = windowed.scores(&variants).unwrap();
        let slow = plain.scores(&variants).unwrap();
        for (variant, (a, b)) in variants.iter().zip(fast.iter().zip(&slow)) {
            assert_same(a, b, &format!("{variant}, windowed against plain"));
        }
    }
}

#[test]
fn windows_are_taken_where_the_circuit_keeps_heads_late() {
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let mut windowed = runner(f, Level::Node, &all);
    let late = Variant::circuit().without([Head::new(2, 0)]);
    let early = Variant::circuit().without([Head::new(0, 1), Head::new(2, 2)]);
    let everywhere = Variant::circuit().without([Head::new(1, 3)]);
    let fast = windowed
        .scores(&[late.clone(), early.clone(), everywhere.clone()])
        .unwrap();
    let mut plain = runner(f, Level::Node, &all);
    plain.windows = false;
    let slow = plain.scores(&[late, early, everywhere]).unwrap();
    for (a, b) in fast.iter().zip(&slow) {
        assert_same(a, b, "windowed against plain");
    }
    // END only (from layer 2) and from S1+1 on (from layer 0) are windows of C, sharing one
    // pass in which the first variant's rows join at layer 2; 1.3 acts at every position: a
    // full resume.
    assert_eq!((windowed.window_passes(), plain.window_passes()), (1, 0));
    assert_eq!(windowed.passes(), 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Variants that extend kept bases (a search's current K) resume from them, by layer and
    /// by window, and score what the plain path scores.
    #[test]
    fn variants_built_on_kept_bases_give_what_the_plain_path_gives(
        bases in proptest::collection::vec(variant(), 1..4),
        extensions in proptest::collection::vec(
            proptest::sample::subsequence(
                (0..3).flat_map(|l| (0..4).map(move |h| Head::new(l, h))).collect::<Vec<_>>(),
                1..=2,
            ),
            1..5,
        ),
        edge in any::<bool>(),
    ) {
        let f = fixture();
        let level = if edge { Level::Edge } else { Level::Node };
        let all: Vec<usize> = (0..12).collect();
        let mut built = runner(f, level, &all);
        built.keep_bases(&bases).unwrap();
        let variants: Vec<Variant> = bases
            .iter()
            .flat_map(|b| extensions.iter().map(move |e| b.without(e.iter().copied())))
            .collect();
        let fast = built.scores(&variants).unwrap();
        let mut plain = runner(f, level, &all);
        plain.windows = false;
        let slow = plain.scores(&variants).unwrap();
        for (variant, (a, b)) in variants.iter().zip(fast.iter().zip(&slow)) {
            assert_same(a, b, &format!("{variant} on kept bases against plain"));
        }
    }
}

#[test]
fn a_window_from_a_base_reads_heads_the_base_kept_before_its_own_window() {
    // The base C \ {1.1} recomputes END only, from layer 1; C \ {1.1, 2.3} extends it from
    // S2 at layer 2, where 2.1 is kept at S2: its keys and values there are the circuit's.
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let base = Variant::circuit().without([Head::new(1, 1)]);
    let child = base.without([Head::new(2, 3)]);
    let mut built = runner(f, Level::Node, &all);
    built.keep_bases(std::slice::from_ref(&base)).unwrap();
    let windows_before = built.window_passes();
    let fast = built.scores(std::slice::from_ref(&child)).unwrap();
    assert_eq!(built.window_passes(), windows_before + 1);
    let mut plain = runner(f, Level::Node, &all);
    plain.windows = false;
    let slow = plain.scores(std::slice::from_ref(&child)).unwrap();
    assert_same(&fast[0], &slow[0], "C \\ {1.1, 2.3} from its base");
}

#[test]
fn a_released_base_is_no_longer_resumed_from_and_scores_stay() {
    // M \ {0.1, 2.2} resumes at layer 2 from the kept M \ {0.1}; once that base is released,
    // from M at layer 0, with the same scores.
    let f = fixture();
    let all: Vec<usize> = (0..12).collect();
    let base = Variant::model().without([Head::new(0, 1)]);
    let child = base.without([Head::new(2, 2)]);
    let work_for_child = |release: bool| {
        let mut runner = runner(f, Level::Node, &all);
        runner.keep_bases(std::slice::from_ref(&base)).unwrap();
        if release {
            runner.release_bases();
        }
        let before = runner.work();
        let mut scores = runner.scores(std::slice::from_ref(&child)).unwrap();
        (runner.work() - before, scores.remove(0))
    };
    let (from_base, kept) = work_for_child(false);
    let (from_model, released) = work_for_child(true);
    assert_eq!(f.loaded.model.config().n_layer, 3);
    assert_eq!(
        from_model,
        3 * from_base,
        "three layers against the last one"
    );
    assert_same(&kept, &released, "M \\ {0.1, 2.2} from its base and from M");
}
