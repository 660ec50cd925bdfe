//! Seeded chaos for soak tests (see [`Chaos`]): a reproducible share of provider requests
//! misbehaves, each in one of the configured ways, and the sandbox counts what fired.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::faults::{self, Plan};
use crate::model::{Chaos, ChaosKind, ChaosReport};

/// The methods chaos considers when the configuration names none: the writes, where a fault
/// after the commit matters.
const DEFAULT_METHODS: [&str; 4] = ["POST", "PATCH", "PUT", "DELETE"];

#[derive(Default)]
pub(crate) struct ChaosStore {
    inner: Mutex<Option<Running>>,
}

struct Running {
    chaos: Chaos,
    /// The splitmix64 state.
    state: u64,
    considered: u64,
    fired: BTreeMap<String, u64>,
}

impl ChaosStore {
    /// Validates `chaos` and puts it in force from now on, with fresh counts.
    pub fn set(&self, mut chaos: Chaos) -> Result<ChaosReport, String> {
        validate(&chaos)?;
        chaos.methods.get_or_insert_with(|| DEFAULT_METHODS.map(String::from).to_vec());
        let running = Running { state: chaos.seed, chaos, considered: 0, fired: BTreeMap::new() };
        let mut inner = self.lock();
        *inner = Some(running);
        Ok(report(inner.as_ref()))
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    pub fn report(&self) -> ChaosReport {
        report(self.lock().as_ref())
    }

    /// Draws for one provider request no armed fault took: the kind that fires on it, if any,
    /// and what the server must do.
    pub fn take(&self, method: &str, path: &str) -> Option<(ChaosKind, Plan)> {
        let mut inner = self.lock();
        let running = inner.as_mut()?;
        let chaos = &running.chaos;
        let method_wanted = chaos.methods.iter().flatten().any(|m| m.eq_ignore_ascii_case(method));
        let path_wanted = chaos
            .paths
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| faults::path_matches(p, path)));
        if !method_wanted || !path_wanted {
            return None;
        }
        running.considered += 1;
        if unit_fraction(splitmix64(&mut running.state)) >= chaos.rate {
            return None;
        }
        // `validate` refused an empty list; the modulo bias over 2^64 is negligible.
        let pick = splitmix64(&mut running.state) % chaos.kinds.len() as u64;
        let kind = *chaos.kinds.get(usize::try_from(pick).ok()?)?;
        *running.fired.entry(kind.to_string()).or_default() += 1;
        Some((kind, faults::plan(&kind.fault(path))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        // Every update leaves the counts consistent, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn report(running: Option<&Running>) -> ChaosReport {
    match running {
        Some(running) => ChaosReport {
            chaos: Some(running.chaos.clone()),
            considered: running.considered,
            fired: running.fired.clone(),
        },
        None => ChaosReport::default(),
    }
}

fn validate(chaos: &Chaos) -> Result<(), String> {
    if !(0.0..=1.0).contains(&chaos.rate) {
        return Err(format!("\"rate\" must be between 0 and 1; got {}", chaos.rate));
    }
    if chaos.kinds.is_empty() {
        return Err("\"kinds\" must name at least one kind".into());
    }
    for kind in &chaos.kinds {
        // A kind built in Rust rather than parsed can carry a code HTTP has not.
        faults::validate(&kind.fault("/")).map_err(|e| format!("kind {kind}: {e}"))?;
    }
    if let Some(methods) = &chaos.methods {
        if methods.is_empty() || methods.iter().any(|m| m.trim().is_empty()) {
            return Err("\"methods\" must name at least one method, none blank".into());
        }
    }
    if let Some(bad) = chaos.paths.iter().flatten().find(|p| !p.starts_with('/')) {
        return Err(format!("\"paths\": {bad:?} must start with '/'"));
    }
    Ok(())
}

/// Vigna's splitmix64 (public domain, <https://prng.di.unimi.it/splitmix64.c>): written out
/// rather than taken from a crate so that a seed gives the same firings in every version.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `draw` as a fraction in [0, 1).
pub(crate) fn unit_fraction(draw: u64) -> f64 {
    (draw >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Ending;
    use crate::model::When;

    fn kinds() -> Vec<ChaosKind> {
        ["status_after:502", "reset_after", "status_before:503"]
            .iter()
            .map(|k| k.parse().unwrap())
            .collect()
    }

    /// Which of `requests` (method, path) get a kind, in order.
    fn run(store: &ChaosStore, requests: &[(&str, &str)]) -> Vec<Option<String>> {
        requests.iter().map(|(m, p)| store.take(m, p).map(|(kind, _)| kind.to_string())).collect()
    }

    #[test]
    fn splitmix64_is_the_reference_generator() {
        // The first outputs of splitmix64.c seeded with 0.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut state), 0x6E78_9E6A_A1B9_65F4);
        assert!(unit_fraction(u64::MAX) < 1.0);
        assert_eq!(unit_fraction(0), 0.0);
    }

    #[test]
    fn the_same_seed_and_requests_give_the_same_firings() {
        let requests: Vec<(&str, &str)> =
            (0..200).map(|i| if i % 3 == 0 { ("GET", "/x") } else { ("POST", "/x") }).collect();
        let store = ChaosStore::default();
        store.set(Chaos::new(7, 0.3, kinds())).unwrap();
        let first = run(&store, &requests);
        store.set(Chaos::new(7, 0.3, kinds())).unwrap();
        assert_eq!(run(&store, &requests), first, "a reset of the same seed replays");
        store.set(Chaos::new(8, 0.3, kinds())).unwrap();
        assert_ne!(run(&store, &requests), first, "another seed differs");

        let fired = first.iter().flatten().count();
        assert!((20..=80).contains(&fired), "about 30% of 133 writes fired: {fired}");
        assert!(first.iter().step_by(3).all(Option::is_none), "GET is not a default method");
        store.set(Chaos::new(7, 0.3, kinds())).unwrap();
        run(&store, &requests);
        let report = store.report();
        assert_eq!(report.considered, 133);
        assert_eq!(report.fired.values().sum::<u64>(), fired as u64);
        assert_eq!(report.fired.len(), 3, "{:?}", report.fired);
    }

    #[test]
    fn rate_methods_and_paths_bound_what_fires() {
        let store = ChaosStore::default();
        store.set(Chaos::new(1, 1.0, kinds()).methods(["get"]).paths(["/tae/*/up*"])).unwrap();
        assert!(store.take("GET", "/TAE/documents/upload").is_some());
        assert!(store.take("POST", "/tae/documents/upload").is_none());
        assert!(store.take("GET", "/tae/documents/download").is_none());
        assert_eq!(store.report().considered, 1);

        store.set(Chaos::new(1, 0.0, kinds())).unwrap();
        assert_eq!(run(&store, &[("POST", "/a"); 50]), vec![None; 50]);
        store.clear();
        assert_eq!(store.take("POST", "/a"), None);
        assert_eq!(store.report(), ChaosReport::default());
    }

    #[test]
    fn kinds_become_the_plans_of_their_faults() {
        let store = ChaosStore::default();
        store.set(Chaos::new(3, 1.0, ["reset_after".parse().unwrap()])).unwrap();
        let (kind, plan) = store.take("DELETE", "/a").unwrap();
        assert_eq!(kind, ChaosKind::Reset { when: When::After });
        assert_eq!(plan, Plan { then: Some(Ending::Reset), ..Plan::default() });
    }

    #[test]
    fn invalid_chaos_is_refused() {
        let store = ChaosStore::default();
        let refused = |chaos: Chaos| store.set(chaos).unwrap_err();
        assert!(refused(Chaos::new(1, 1.5, kinds())).contains("rate"));
        assert!(refused(Chaos::new(1, f64::NAN, kinds())).contains("rate"));
        assert!(refused(Chaos::new(1, 0.5, [])).contains("kinds"));
        let teapot = ChaosKind::Status { when: When::After, status: 1000, retry_after_secs: None };
        assert!(refused(Chaos::new(1, 0.5, [teapot])).contains("not an HTTP status"));
        assert!(
            refused(Chaos::new(1, 0.5, kinds()).methods(Vec::<String>::new())).contains("methods")
        );
        assert!(refused(Chaos::new(1, 0.5, kinds()).paths(["tae"])).contains("paths"));
        assert_eq!(store.report(), ChaosReport::default(), "nothing was put in force");
    }
}
