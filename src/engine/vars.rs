//! The two small maps a session keeps: its variables and parameters
//! ([`Vars`]) and the variables one answer set ([`VarSet`]).
//!
//! Both are sorted slices rather than `BTreeMap`s: a session holds a handful
//! of names, and a B-tree leaf is 632 bytes however few it holds (see
//! `benches/RESULTS-engine.md`). Both serialize as the JSON object the maps
//! were, so stored sessions and the API read the same.

use crate::program::Text;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Variables or parameters by name, sorted, at most one value per name.
/// Names are [`Text`]s: a name the program wrote (a `set` or `into`
/// target) is shared with it, not copied into every session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vars(Vec<(Text, Json)>);

impl Vars {
    pub fn new() -> Vars {
        Vars(Vec::new())
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        find(&self.0, name)
    }

    pub fn get(&self, name: &str) -> Option<&Json> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Json> {
        self.find(name).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets `name`, returning the value it replaced. A new name grows the
    /// buffer by one slot only: sessions are many and their maps small.
    pub fn insert(&mut self, name: impl Into<Text> + AsRef<str>, value: Json) -> Option<Json> {
        match self.find(name.as_ref()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.reserve_exact(1);
                self.0.insert(i, (name.into(), value));
                None
            }
        }
    }

    /// Sets `name` unless it is set already.
    pub fn insert_default(&mut self, name: &str, value: impl FnOnce() -> Json) {
        if let Err(i) = self.find(name) {
            self.0.reserve_exact(1);
            self.0.insert(i, (Text::from(name), value()));
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Text, &Json)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Text> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The same pairs as a map (for records and the API, which own one).
    pub fn to_map(&self) -> BTreeMap<String, Json> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect()
    }

    /// Heap bytes of the buffer (not of the names and values). Not part of
    /// the API: the session-size benchmark, a separate crate, measures with it.
    #[doc(hidden)]
    pub fn buffer_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(Text, Json)>()
    }
}

impl From<BTreeMap<String, Json>> for Vars {
    fn from(m: BTreeMap<String, Json>) -> Vars {
        // Already sorted and unique.
        let mut v: Vec<(Text, Json)> = Vec::with_capacity(m.len());
        v.extend(m.into_iter().map(|(k, v)| (Text::from(k), v)));
        Vars(v)
    }
}

impl FromIterator<(String, Json)> for Vars {
    /// For a name given twice the last value wins, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Vars {
        let m: BTreeMap<String, Json> = iter.into_iter().collect();
        Vars::from(m)
    }
}

impl std::ops::Index<&str> for Vars {
    type Output = Json;
    fn index(&self, name: &str) -> &Json {
        self.get(name).unwrap_or(&Json::Null)
    }
}

impl Serialize for Vars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Vars, D::Error> {
        BTreeMap::<String, Json>::deserialize(d).map(Vars::from)
    }
}

/// The variables one answer set, sorted by name: a shared slice (8 bytes
/// of pointer plus length, no allocation when empty), so the `set` of an
/// answer with literal values is made once per program and every trail
/// entry recording it shares it. Serialized as the JSON object a map was.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VarSet(Option<Arc<[(Text, Json)]>>);

impl VarSet {
    /// From pairs in any order; for a name given twice the last value wins
    /// (as inserting into a map would).
    pub fn new(mut pairs: Vec<(Text, Json)>) -> VarSet {
        if pairs.is_empty() {
            return VarSet(None);
        }
        if pairs.len() > 1 {
            // Stable: equal names keep their order, so the last is last.
            pairs.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            let mut out: Vec<(Text, Json)> = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                match out.last_mut() {
                    Some(last) if last.0 == k => last.1 = v,
                    _ => out.push((k, v)),
                }
            }
            pairs = out;
        }
        VarSet(Some(Arc::from(pairs)))
    }

    fn pairs(&self) -> &[(Text, Json)] {
        self.0.as_deref().unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// The value set for `name`.
    pub fn get(&self, name: &str) -> Option<&Json> {
        let p = self.pairs();
        find(p, name).ok().map(|i| &p[i].1)
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Json)> {
        self.pairs().iter().map(|(k, v)| (k, v))
    }

    /// Is this slice shared with others (the program's, or other entries')?
    pub fn is_shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
}

impl std::ops::Index<&str> for VarSet {
    type Output = Json;
    fn index(&self, name: &str) -> &Json {
        self.get(name).unwrap_or(&Json::Null)
    }
}

impl Serialize for VarSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(self.pairs(), s)
    }
}

/// Where `name` is in sorted pairs, or where it would go.
fn find(pairs: &[(Text, Json)], name: &str) -> Result<usize, usize> {
    pairs.binary_search_by(|(k, _)| k.as_str().cmp(name))
}

/// Sorted pairs as the JSON object the maps were.
fn serialize<S: Serializer>(pairs: &[(Text, Json)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

impl<'de> Deserialize<'de> for VarSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<VarSet, D::Error> {
        let map = BTreeMap::<Text, Json>::deserialize(d)?;
        Ok(VarSet::new(map.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_var_set_is_the_json_object_the_map_was() {
        // Out of order, with a repeated name: the map sorted by key and kept
        // the last value; the slice must serialize to the same bytes.
        let pairs = vec![
            (Text::from("light"), json!("red")),
            (Text::from("attempts"), json!(1)),
            (Text::from("light"), json!("off")),
            (Text::from("Zeta"), json!(true)),
        ];
        let map: BTreeMap<String, Json> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let set = VarSet::new(pairs);
        assert_eq!(set.len(), 3);
        assert_eq!(set["light"], json!("off"));
        assert_eq!(set.get("nothing"), None);
        let json = serde_json::to_string(&set).expect("serializes");
        assert_eq!(json, serde_json::to_string(&map).expect("serializes"));
        let back: VarSet = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, set);
        assert!(VarSet::default().is_empty());
        assert_eq!(VarSet::new(Vec::new()), VarSet::default());
    }

    #[test]
    fn vars_behave_as_the_map_they_replace() {
        let mut map: BTreeMap<String, Json> = BTreeMap::new();
        let mut vars = Vars::new();
        for (k, v) in [
            ("light", json!("red")),
            ("attempts", json!(1)),
            ("light", json!("off")),
            ("Zeta", json!(true)),
            ("mid", json!(null)),
        ] {
            assert_eq!(vars.insert(k, v.clone()), map.insert(k.to_owned(), v));
        }
        vars.insert_default("attempts", || json!(99));
        vars.insert_default("new", || json!(7));
        map.entry("new".into()).or_insert(json!(7));
        assert_eq!(vars.to_map(), map);
        assert_eq!(vars.len(), map.len());
        assert_eq!(vars["light"], json!("off"));
        assert!(vars.contains_key("Zeta") && !vars.contains_key("zeta"));
        *vars.get_mut("attempts").expect("set") = json!(2);
        map.insert("attempts".into(), json!(2));
        let json = serde_json::to_string(&vars).expect("serializes");
        assert_eq!(json, serde_json::to_string(&map).expect("serializes"));
        let back: Vars = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, vars);
        assert_eq!(Vars::from(map.clone()), vars);
        assert_eq!(map.into_iter().rev().collect::<Vars>(), vars);
    }
}
