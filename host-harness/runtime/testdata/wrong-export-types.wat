;; A component that exports every function of the contract's world by name, each as
;; `func()`: the names are found, the types are not the contract's. Used by the runtime's
;; unit tests (src/exports.rs). The .wasm beside it is this file, encoded with
;; `wasm-tools parse wrong-export-types.wat -o wrong-export-types.wasm` (wasm-tools 1.262).
(component
  (core module $m
    (func (export "f"))
  )
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (export "describe" (func $f))
  (export "check" (func $f))
  (export "list-changes" (func $f))
  (export "fetch-item" (func $f))
  (export "map-permissions" (func $f))
  (export "list-users" (func $f))
)
