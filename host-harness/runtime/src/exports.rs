//! The current contract's exports, looked up once per component and type-checked once per export.
//!
//! The bindings that `bindgen!` generates type-check every export of the world each time an
//! instance is created (`ConnectorPre::instantiate` loads all six), although a call uses one:
//! about a microsecond of every fresh instance. Here a component's export indices are found when
//! it is linked; the first call of an export checks its type against the bindings' Rust types,
//! and later instances of the same component reuse that check. Each export is called from one
//! method below, with one signature, which is what makes reusing the check sound.

use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower, TypedFunc,
};
use wasmtime::{AsContextMut, Store};

use crate::bindings::v0_2_0::Fetched;
use crate::bindings::v0_2_0::types::{
    AccessFacts, ChangePage, ConnectorError, ConnectorInfo, CrawlMode, Permissions, UserPage,
    Visibility,
};

/// An export whose type does not match the contract: the component is malformed, which the
/// runtime reports like a failure to instantiate.
#[derive(Debug, thiserror::Error)]
#[error("the component's `{export}` export does not have the contract's type: {message}")]
pub struct ExportTypeMismatch {
    pub export: &'static str,
    pub message: String,
}

/// One export: where it is, and whether its type has been checked.
struct Export {
    name: &'static str,
    index: ComponentExportIndex,
    checked: AtomicBool,
}

impl Export {
    fn find<T>(pre: &InstancePre<T>, name: &'static str) -> wasmtime::Result<Self> {
        let index = pre
            .component()
            .get_export_index(None, name)
            .ok_or_else(|| wasmtime::format_err!("no exported function `{name}`"))?;
        Ok(Export {
            name,
            index,
            checked: AtomicBool::new(false),
        })
    }

    /// The export as a typed function of `instance`, checking its type the first time.
    ///
    /// Callers must always name the same `P` and `R` for one `Export` (each export has one
    /// caller in this module).
    fn typed<P, R>(
        &self,
        instance: &Instance,
        mut store: impl AsContextMut,
    ) -> wasmtime::Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        if self.checked.load(Ordering::Acquire) {
            let func = instance
                .get_func(store.as_context_mut(), self.index)
                .ok_or_else(|| wasmtime::format_err!("no exported function `{}`", self.name))?;
            // SAFETY: `checked` is set only after `get_typed_func::<P, R>` succeeded for this
            // export index of this component (every instance here comes from the same
            // `InstancePre`, so the export's type is the same), and the one caller of this
            // export always names the same `P` and `R`.
            return Ok(unsafe { TypedFunc::new_unchecked(func) });
        }
        let typed = instance
            .get_typed_func::<P, R>(store, self.index)
            .map_err(|e| ExportTypeMismatch {
                export: self.name,
                message: format!("{e:#}"),
            })?;
        self.checked.store(true, Ordering::Release);
        Ok(typed)
    }
}

/// A component built for contract 0.2.x, linked and ready to instantiate, with its exports.
///
/// The exports' checks hold for instances of this pre-instance alone, which is why the two are
/// kept together and instances are only made here.
pub struct ConnectorPre<T: 'static> {
    pre: InstancePre<T>,
    describe: Export,
    check: Export,
    list_changes: Export,
    fetch_item: Export,
    map_permissions: Export,
    list_users: Export,
}

impl<T: 'static> ConnectorPre<T> {
    /// Finds every export of the contract's world (a missing one fails the link).
    pub fn new(pre: InstancePre<T>) -> wasmtime::Result<Self> {
        Ok(ConnectorPre {
            describe: Export::find(&pre, "describe")?,
            check: Export::find(&pre, "check")?,
            list_changes: Export::find(&pre, "list-changes")?,
            fetch_item: Export::find(&pre, "fetch-item")?,
            map_permissions: Export::find(&pre, "map-permissions")?,
            list_users: Export::find(&pre, "list-users")?,
            pre,
        })
    }

    /// A fresh instance in `store`, ready for one call.
    pub fn instantiate(&self, store: &mut Store<T>) -> wasmtime::Result<Connector<'_, T>> {
        Ok(Connector {
            exports: self,
            instance: self.pre.instantiate(store)?,
        })
    }
}

/// One instance with the contract's exports, as the bindings' `Connector` offers them.
pub struct Connector<'a, T: 'static> {
    exports: &'a ConnectorPre<T>,
    instance: Instance,
}

impl<T: 'static> Connector<'_, T> {
    /// Calls `func` with `params` (wasmtime runs the export's post-return itself).
    fn run<P, R>(
        &self,
        func: TypedFunc<P, (R,)>,
        store: &mut Store<T>,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower,
        (R,): ComponentNamedList + Lift,
    {
        let (result,) = func.call(&mut *store, params)?;
        Ok(result)
    }

    pub fn call_describe(&self, store: &mut Store<T>) -> wasmtime::Result<ConnectorInfo> {
        let f = self
            .exports
            .describe
            .typed::<(), (ConnectorInfo,)>(&self.instance, &mut *store)?;
        self.run(f, store, ())
    }

    pub fn call_check(&self, store: &mut Store<T>) -> wasmtime::Result<Result<(), ConnectorError>> {
        let f = (self.exports.check)
            .typed::<(), (Result<(), ConnectorError>,)>(&self.instance, &mut *store)?;
        self.run(f, store, ())
    }

    pub fn call_list_changes(
        &self,
        store: &mut Store<T>,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<ChangePage, ConnectorError>> {
        let f = (self.exports.list_changes)
            .typed::<(CrawlMode, Option<&str>), (Result<ChangePage, ConnectorError>,)>(
                &self.instance,
                &mut *store,
            )?;
        self.run(f, store, (mode, cursor))
    }

    pub fn call_fetch_item(
        &self,
        store: &mut Store<T>,
        id: &str,
        visibility: Visibility,
    ) -> wasmtime::Result<Result<Fetched, ConnectorError>> {
        let f = (self.exports.fetch_item)
            .typed::<(&str, Visibility), (Result<Fetched, ConnectorError>,)>(
                &self.instance,
                &mut *store,
            )?;
        self.run(f, store, (id, visibility))
    }

    pub fn call_map_permissions(
        &self,
        store: &mut Store<T>,
        facts: &AccessFacts,
    ) -> wasmtime::Result<Permissions> {
        let f = (self.exports.map_permissions)
            .typed::<(&AccessFacts,), (Permissions,)>(&self.instance, &mut *store)?;
        self.run(f, store, (facts,))
    }

    pub fn call_list_users(
        &self,
        store: &mut Store<T>,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<UserPage, ConnectorError>> {
        let f = (self.exports.list_users)
            .typed::<(Option<&str>,), (Result<UserPage, ConnectorError>,)>(
                &self.instance,
                &mut *store,
            )?;
        self.run(f, store, (cursor,))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Config, Engine};

    fn pre(bytes: &[u8]) -> (Engine, InstancePre<()>) {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let component = Component::new(&engine, bytes).unwrap();
        let pre = Linker::<()>::new(&engine)
            .instantiate_pre(&component)
            .unwrap();
        (engine, pre)
    }

    #[test]
    fn an_export_of_the_wrong_type_fails_its_call_every_time_and_says_which() {
        let (engine, pre) = pre(include_bytes!("../testdata/wrong-export-types.wasm"));
        let pre = ConnectorPre::new(pre).unwrap();
        for _ in 0..2 {
            let mut store = Store::new(&engine, ());
            let instance = pre.instantiate(&mut store).unwrap();
            let err = instance.call_describe(&mut store).unwrap_err();
            let mismatch = err
                .downcast_ref::<ExportTypeMismatch>()
                .expect("a type mismatch");
            assert_eq!(mismatch.export, "describe");
            let err = instance.call_fetch_item(&mut store, "x", Visibility::Public);
            let err = err.unwrap_err();
            let mismatch = err
                .downcast_ref::<ExportTypeMismatch>()
                .expect("a type mismatch");
            assert_eq!(mismatch.export, "fetch-item");
            assert!(
                err.to_string()
                    .contains("does not have the contract's type"),
                "{err}"
            );
        }
        // A failed check is not remembered as a pass.
        assert!(!pre.describe.checked.load(Ordering::Acquire));
        assert!(!pre.fetch_item.checked.load(Ordering::Acquire));
    }

    #[test]
    fn a_missing_export_fails_the_link_and_names_it() {
        let (_engine, pre) = pre(include_bytes!("../testdata/missing-export.wasm"));
        let err = ConnectorPre::new(pre).err().expect("a missing export");
        assert!(err.to_string().contains("`list-users`"), "{err}");
    }
}
