//! The faithfulness search of `discover --faithfulness F`: the fewest top-ranked edges whose
//! circuit reaches F. It doubles N (1, 2, 4, …, up to every edge) until a size reaches F,
//! then bisects between the last size that fell short and the first that reached it. It
//! assumes faithfulness grows with N: where it does not, the size found reaches F, and every
//! size tried below it fell short, but a smaller size it skipped may reach F too.

/// The smallest N in 1..=`total` whose `faithfulness(N)` is at least `target`, under the
/// assumption above; `None` when not even `total` reaches it. Each size is asked once.
pub fn fewest<E>(
    total: usize,
    target: f64,
    mut faithfulness: impl FnMut(usize) -> Result<f64, E>,
) -> Result<Option<usize>, E> {
    let mut short = 0;
    let mut n = 1.min(total);
    let reached = loop {
        if n == 0 {
            return Ok(None);
        }
        if faithfulness(n)? >= target {
            break n;
        }
        short = n;
        if n == total {
            return Ok(None);
        }
        n = (2 * n).min(total);
    };
    let mut reached = reached;
    while reached - short > 1 {
        let middle = short + (reached - short) / 2;
        if faithfulness(middle)? >= target {
            reached = middle;
        } else {
            short = middle;
        }
    }
    Ok(Some(reached))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(total: usize, target: f64, f: impl Fn(usize) -> f64) -> (Option<usize>, Vec<usize>) {
        let mut asked = Vec::new();
        let found = fewest::<()>(total, target, |n| {
            asked.push(n);
            Ok(f(n))
        })
        .unwrap();
        (found, asked)
    }

    #[test]
    fn doubles_then_bisects_to_the_first_size_that_reaches() {
        let (found, asked) = search(1000, 0.9, |n| if n >= 37 { 0.95 } else { 0.1 });
        assert_eq!(found, Some(37));
        assert_eq!(asked, [1, 2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]);
    }

    #[test]
    fn every_size_reached_or_none() {
        assert_eq!(search(10, 0.5, |_| 1.0), (Some(1), vec![1]));
        let (found, asked) = search(10, 2.0, |_| 1.0);
        assert_eq!(found, None);
        assert_eq!(asked, [1, 2, 4, 8, 10]);
        assert_eq!(search(0, 0.5, |_| 1.0), (None, vec![]));
        // The last size only.
        assert_eq!(
            search(10, 0.5, |n| if n == 10 { 1.0 } else { 0.0 }).0,
            Some(10)
        );
    }
}
