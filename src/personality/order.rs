//! Run order: the topological order of `requires`, ties broken by module name in byte order
//! (DESIGN.md, "Modules and run order").
//!
//! Pure: names in, indices out. Knows nothing of folders, manifests or scripts.

use std::collections::BTreeSet;
use std::fmt;

/// Why no run order exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// `module` requires `requirement`, and no module of that name is in the set.
    Missing {
        /// The module whose `requires` names the absent module.
        module: String,
        /// The absent module's name.
        requirement: String,
    },
    /// A `requires` cycle, as a closed path: `["a", "b", "a"]` means `a` requires `b`, which
    /// requires `a`. It starts at the cycle's smallest name, so the text is stable.
    Cycle(Vec<String>),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::Missing {
                module,
                requirement,
            } => write!(
                f,
                "module `{module}` requires `{requirement}`, which is not in the bundle"
            ),
            OrderError::Cycle(path) => write!(f, "requires cycle: {}", path.join(" → ")),
        }
    }
}

impl std::error::Error for OrderError {}

/// Orders modules so that every module runs after the modules it requires.
///
/// `modules` holds each module's name and its `requires`. Returns indices into `modules`, in run
/// order. Among modules that are ready at the same time the smallest name (in byte order) goes
/// first (Kahn's algorithm with a min-ordered ready set), so with no `requires` at all this is plain
/// name order, as in the seeds (`10-java` before `20-rabbitmq`).
///
/// The first missing requirement (modules taken in name order) or one cycle is reported. Names are
/// expected to be unique; a requirement naming a duplicated name waits for all of them.
pub fn run_order(modules: &[(String, Vec<String>)]) -> Result<Vec<usize>, OrderError> {
    let by_name = |name: &str| -> Vec<usize> {
        (0..modules.len())
            .filter(|&i| modules[i].0 == name)
            .collect()
    };

    // Edges "requirement → dependant", and each module's count of requirements not yet run.
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); modules.len()];
    let mut waiting_on: Vec<usize> = vec![0; modules.len()];
    let mut by_name_order: Vec<usize> = (0..modules.len()).collect();
    by_name_order.sort_by(|&a, &b| modules[a].0.as_bytes().cmp(modules[b].0.as_bytes()));
    for &i in &by_name_order {
        let (name, requires) = &modules[i];
        // A requirement listed twice is one requirement.
        let unique: BTreeSet<&str> = requires.iter().map(String::as_str).collect();
        for req in unique {
            let found = by_name(req);
            if found.is_empty() {
                return Err(OrderError::Missing {
                    module: name.clone(),
                    requirement: req.to_string(),
                });
            }
            for j in found {
                dependants[j].push(i);
                waiting_on[i] += 1;
            }
        }
    }

    let key = |i: usize| (modules[i].0.as_bytes(), i);
    let mut ready: BTreeSet<(&[u8], usize)> = (0..modules.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(modules.len());
    while let Some((_, i)) = ready.pop_first() {
        order.push(i);
        for &d in &dependants[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.insert(key(d));
            }
        }
    }
    if order.len() == modules.len() {
        Ok(order)
    } else {
        Err(OrderError::Cycle(find_cycle(modules, &waiting_on)))
    }
}

/// Finds one cycle among the modules Kahn's algorithm could not place.
///
/// Every such module still waits on at least one unplaced requirement, so following requirements
/// from any of them must come back to a module already seen.
fn find_cycle(modules: &[(String, Vec<String>)], waiting_on: &[usize]) -> Vec<String> {
    let stuck = |i: usize| waiting_on[i] > 0;
    let smallest = |candidates: &mut dyn Iterator<Item = usize>| {
        candidates.min_by(|&a, &b| modules[a].0.as_bytes().cmp(modules[b].0.as_bytes()))
    };
    let Some(start) = smallest(&mut (0..modules.len()).filter(|&i| stuck(i))) else {
        return Vec::new();
    };
    let mut path = vec![start];
    loop {
        let Some(&here) = path.last() else {
            return Vec::new();
        };
        let mut next_candidates = (0..modules.len())
            .filter(|&j| stuck(j) && modules[here].1.iter().any(|r| *r == modules[j].0));
        let Some(next) = smallest(&mut next_candidates) else {
            // Unreachable by the argument above; report what was walked rather than panic.
            return path.iter().map(|&i| modules[i].0.clone()).collect();
        };
        if let Some(pos) = path.iter().position(|&i| i == next) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            // Start at the smallest name so the same cycle always reads the same.
            let min_at = (0..cycle.len())
                .min_by(|&a, &b| {
                    modules[cycle[a]]
                        .0
                        .as_bytes()
                        .cmp(modules[cycle[b]].0.as_bytes())
                })
                .unwrap_or(0);
            cycle.rotate_left(min_at);
            let first = cycle[0];
            cycle.push(first);
            return cycle.iter().map(|&i| modules[i].0.clone()).collect();
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        list.iter()
            .map(|(n, r)| (n.to_string(), r.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn names(input: &[(String, Vec<String>)], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| input[i].0.clone()).collect()
    }

    #[test]
    fn no_requires_is_name_order() {
        let input = m(&[("20-rabbitmq", &[]), ("10-java", &[]), ("30-app", &[])]);
        let order = run_order(&input).unwrap();
        assert_eq!(names(&input, &order), ["10-java", "20-rabbitmq", "30-app"]);
        assert_eq!(order, [1, 0, 2]);
    }

    #[test]
    fn requires_move_a_module_after_its_requirements() {
        let input = m(&[
            ("app", &["rabbitmq"]),
            ("erlang", &[]),
            ("rabbitmq", &["erlang"]),
        ]);
        let order = run_order(&input).unwrap();
        assert_eq!(names(&input, &order), ["erlang", "rabbitmq", "app"]);
    }

    #[test]
    fn ties_are_broken_by_byte_order_not_locale() {
        // Upper case sorts before lower case in bytes; `B` < `a` < `b`.
        let input = m(&[("b", &[]), ("a", &[]), ("B", &[]), ("_x", &["b"])]);
        let order = run_order(&input).unwrap();
        assert_eq!(names(&input, &order), ["B", "a", "b", "_x"]);
    }

    #[test]
    fn a_freed_module_waits_for_smaller_ready_ones() {
        // `z` frees `c`, and `a`/`b` were ready already: smallest ready name first each time.
        let input = m(&[("c", &["a"]), ("a", &[]), ("b", &[]), ("d", &[])]);
        let order = run_order(&input).unwrap();
        assert_eq!(names(&input, &order), ["a", "b", "c", "d"]);
    }

    #[test]
    fn cycle_is_reported_in_full() {
        let input = m(&[("b", &["a"]), ("a", &["b"]), ("c", &[])]);
        let err = run_order(&input).unwrap_err();
        assert_eq!(
            err,
            OrderError::Cycle(vec!["a".into(), "b".into(), "a".into()])
        );
        assert_eq!(err.to_string(), "requires cycle: a → b → a");
    }

    #[test]
    fn longer_cycle_behind_a_dependant_starts_at_its_smallest_name() {
        let input = m(&[("top", &["y"]), ("x", &["z"]), ("y", &["x"]), ("z", &["y"])]);
        let err = run_order(&input).unwrap_err();
        assert_eq!(err.to_string(), "requires cycle: x → z → y → x");
    }

    #[test]
    fn self_requirement_is_a_cycle() {
        let err = run_order(&m(&[("a", &["a"])])).unwrap_err();
        assert_eq!(err.to_string(), "requires cycle: a → a");
    }

    #[test]
    fn missing_requirement_is_named() {
        let input = m(&[("rabbitmq", &["erlang"]), ("java", &[])]);
        assert_eq!(
            run_order(&input).unwrap_err(),
            OrderError::Missing {
                module: "rabbitmq".into(),
                requirement: "erlang".into()
            }
        );
    }

    #[test]
    fn repeated_requirement_counts_once() {
        let input = m(&[("b", &["a", "a"]), ("a", &[])]);
        assert_eq!(names(&input, &run_order(&input).unwrap()), ["a", "b"]);
    }

    #[test]
    fn empty_input_is_empty_order() {
        assert_eq!(run_order(&[]).unwrap(), Vec::<usize>::new());
    }
}
