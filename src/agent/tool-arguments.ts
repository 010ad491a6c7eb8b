/**
 * Tool-call arguments as providers send them: a JSON string (OpenAI-style function calls, Qwen-Omni,
 * Deepgram's FunctionCallRequest). An empty string is no arguments; undefined unless it holds an object.
 */
export function parseToolArguments(json: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(json === '' ? '{}' : json);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
