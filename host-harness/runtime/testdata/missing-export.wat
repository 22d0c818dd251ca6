;; A component without the contract's `list-users` export (its other exports are `func()`).
;; Used by the runtime's unit tests (src/exports.rs); the .wasm beside it is this file,
;; encoded with `wasm-tools parse missing-export.wat -o missing-export.wasm` (wasm-tools 1.262).
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
)
