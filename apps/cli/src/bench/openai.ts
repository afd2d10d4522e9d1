/**
 * The OpenAI-compatible streaming API as the bench uses it: request bodies and the meaning of one
 * SSE event. Dynamo's frontend serves /v1/chat/completions and /v1/completions; it honours
 * `stream_options.include_usage` (a last chunk with `usage` and no choices, before `data: [DONE]`;
 * shared/reference/dynamo-flags/releases-1.x.json, DYN_ENABLE_FORCE_INCLUDE_USAGE) and the root-level
 * `ignore_eos` extension (lib/llm/src/protocols/openai/common_ext.rs, CommonExt: "the model will
 * ignore the end of string token and generate to max_tokens"), which vLLM and SGLang servers accept
 * too, so every request generates exactly `max_tokens` tokens.
 */
export const APIS = ["chat", "completions"] as const;
export type Api = (typeof APIS)[number];

export const PATHS: Readonly<Record<Api, string>> = {
  chat: "/v1/chat/completions",
  completions: "/v1/completions",
};

export function requestBody(api: Api, model: string, prompt: string, maxTokens: number) {
  const common = {
    model,
    max_tokens: maxTokens,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  };
  return api === "chat"
    ? { ...common, messages: [{ role: "user", content: prompt }] }
    : { ...common, prompt };
}

export interface Usage {
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
}

export type StreamEvent =
  | { readonly kind: "done" }
  | { readonly kind: "error"; readonly message: string }
  | {
      readonly kind: "chunk";
      /** The text this chunk adds (empty for a role-only first delta or the usage chunk). */
      readonly text: string;
      readonly finishReason: string | null;
      readonly usage: Usage | null;
    };

const head = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n)}…` : s);

function numberOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function usageOf(v: unknown): Usage | null {
  if (typeof v !== "object" || v === null) return null;
  const u = v as Record<string, unknown>;
  return { promptTokens: numberOrNull(u.prompt_tokens), completionTokens: numberOrNull(u.completion_tokens) };
}

function errorMessage(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as { message?: unknown }).message === "string")
    return (v as { message: string }).message;
  return JSON.stringify(v);
}

/** What one event's data means: a chunk (text, finish reason, usage), an error, or the end. */
export function readEvent(data: string, api: Api): StreamEvent {
  if (data.trim() === "[DONE]") return { kind: "done" };
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return { kind: "error", message: `not JSON: ${head(data)}` };
  }
  if (typeof obj !== "object" || obj === null)
    return { kind: "error", message: `not an object: ${head(data)}` };
  if (obj.error !== undefined && obj.error !== null)
    return { kind: "error", message: errorMessage(obj.error) };
  let text = "";
  let finishReason: string | null = null;
  for (const c of Array.isArray(obj.choices) ? (obj.choices as Array<Record<string, unknown>>) : []) {
    const piece =
      api === "chat" ? (c.delta as Record<string, unknown> | undefined)?.content : (c.text as unknown);
    if (typeof piece === "string") text += piece;
    if (typeof c.finish_reason === "string") finishReason = c.finish_reason;
  }
  return { kind: "chunk", text, finishReason, usage: usageOf(obj.usage) };
}

/** A whole (non-streamed) answer, for a server that ignored `stream: true`. */
export function readWhole(body: unknown, api: Api): { text: string; usage: Usage | null } {
  const obj = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  let text = "";
  for (const c of Array.isArray(obj.choices) ? (obj.choices as Array<Record<string, unknown>>) : []) {
    const piece =
      api === "chat" ? (c.message as Record<string, unknown> | undefined)?.content : (c.text as unknown);
    if (typeof piece === "string") text += piece;
  }
  return { text, usage: usageOf(obj.usage) };
}
