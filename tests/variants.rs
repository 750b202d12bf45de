//! `extends`: variants resolve to the circuit their base describes, edited.

use std::path::Path;

use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{Channel, Circuit, Edge, FileSystem, Head, Loader, Metric, Node};

fn load(path: &str) -> Circuit {
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = loader.load(&root.join(path));
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}");
    loaded.circuit.clone().unwrap()
}

#[test]
fn the_ioi_circuit_has_26_heads_in_7_classes() {
    let ioi = load("circuits/ioi.circuit");
    assert_eq!(ioi.heads().len(), 26);
    assert_eq!(ioi.classes.len(), 7);
    assert_eq!(
        ioi.class_of(Head::new(10, 7)).unwrap().name,
        "negative_name_mover"
    );
    // Classes are ordered bottom-up by their first head.
    let order: Vec<&str> = ioi.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        order[..3],
        ["duplicate_token", "previous_token", "induction"]
    );
    let head_edges = ioi.head_edges();
    assert!(head_edges.contains(&(Some(Head::new(2, 2)), Head::new(5, 5), Channel::K)));
    assert!(head_edges.contains(&(None, Head::new(9, 9), Channel::V)));
    assert!(!head_edges.contains(&(Some(Head::new(2, 2)), Head::new(5, 5), Channel::Q)));
}

#[test]
fn the_naive_variant_drops_backup_and_negative_movers_and_their_edges() {
    let ioi = load("circuits/ioi.circuit");
    let naive = load("circuits/ioi-naive.circuit");
    assert_eq!(naive.name, "ioi_naive");
    assert_eq!(
        (naive.model.as_str(), naive.task.name_or_path()),
        ("gpt2-small", "ioi")
    );
    assert_eq!(naive.heads().len(), 26 - 8 - 2);
    assert!(naive.class("backup_name_mover").is_none());
    let touching_backup = naive
        .edges
        .iter()
        .any(|e| [&e.from, &e.to].contains(&&Node::Class("backup_name_mover".into())));
    assert!(!touching_backup);
    // embed → .k and .v, s_inhibition → .q and → logits, for each of the two classes.
    assert_eq!(ioi.edges.len() - naive.edges.len(), 8);
    // The variant's bound replaces the base's; the base's other bounds stay.
    let faithfulness: Vec<f64> = naive
        .expectations
        .iter()
        .filter(|e| e.metric == Metric::Faithfulness)
        .map(|e| e.value)
        .collect();
    assert_eq!(faithfulness, [0.5]);
    assert!(
        naive
            .expectations
            .iter()
            .any(|e| e.metric == Metric::Incompleteness)
    );
}

#[test]
fn heads_move_between_classes_with_remove_and_add() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/ioi.circuit"),
        dir.path().join("ioi.circuit"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("moved.circuit"),
        "circuit moved extends \"ioi.circuit\" {\n  level edge\n}\n\
         remove head 10.7\nadd 10.7 to name_mover\n\
         remove edge s_inhibition -> negative_name_mover.q\n",
    )
    .unwrap();
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let loaded = loader.load(&dir.path().join("moved.circuit"));
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}");
    let moved = loaded.circuit.as_ref().unwrap();
    assert_eq!(moved.class_of(Head::new(10, 7)).unwrap().name, "name_mover");
    assert_eq!(moved.class("negative_name_mover").unwrap().heads.len(), 1);
    assert_eq!(moved.level, Some(circuitcheck::dsl::Level::Edge));
    assert!(!moved.edges.contains(&Edge {
        from: Node::Class("s_inhibition".into()),
        to: Node::Class("negative_name_mover".into()),
        channel: Some(Channel::Q),
    }));
}

/// `remove edge` takes MLP edges away, and a variant's `mlp` lines may keep fewer MLPs once
/// their edges are gone; `wires` and `wired_mlps` see MLPs as senders and receivers.
#[test]
fn variants_remove_mlp_edges() {
    use circuitcheck::dsl::{Receiver, Sender};
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff/mlp-edges.circuit"),
        dir.path().join("base.circuit"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("fewer.circuit"),
        "circuit fewer extends \"base.circuit\" {\n}\n\
         remove edge mlp.6 -> mlp.10\nremove edge mlp.10 -> logits\nmlp 6 at all\n",
    )
    .unwrap();
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let base = load_from(&mut loader, &dir.path().join("base.circuit"));
    assert_eq!(base.wired_mlps().into_iter().collect::<Vec<_>>(), [6, 10]);
    let wires = base.wires();
    assert!(wires.contains(&(Sender::Head(Head::new(5, 8)), Receiver::Mlp(6))));
    assert!(wires.contains(&(Sender::Mlp(6), Receiver::Head(Head::new(7, 9), Channel::V))));
    assert!(!wires.contains(&(Sender::Mlp(6), Receiver::Head(Head::new(7, 9), Channel::Q))));
    assert!(wires.contains(&(Sender::Mlp(6), Receiver::Mlp(10))));
    assert!(wires.contains(&(Sender::Mlp(10), Receiver::Logits)));
    let fewer = load_from(&mut loader, &dir.path().join("fewer.circuit"));
    assert_eq!(fewer.wired_mlps().into_iter().collect::<Vec<_>>(), [6]);
    assert_eq!(base.edges.len() - fewer.edges.len(), 2);
    assert!(fewer.edges.contains(&Edge {
        from: Node::Mlp(6),
        to: Node::Class("s_inhibition".into()),
        channel: Some(Channel::V),
    }));
}

fn load_from(loader: &mut Loader, path: &Path) -> Circuit {
    let loaded = loader.load(path);
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}");
    loaded.circuit.clone().unwrap()
}
