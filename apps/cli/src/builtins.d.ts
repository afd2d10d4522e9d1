// The built-in backends are loaded lazily and checked with assertBackend(), so the CLI needs no
// compile-time types from them (they are plugins like any other).
declare module "@dyn/backend-vllm" {
  const backend: unknown;
  export default backend;
}
declare module "@dyn/backend-sglang" {
  const backend: unknown;
  export default backend;
}
declare module "@dyn/backend-trtllm" {
  const backend: unknown;
  export default backend;
}
