// The Connect protocol over fetch(): a unary call is a POST of JSON; a stream is a POST
// of enveloped JSON messages (5-byte prefix each), answered the same way.

const SERVICE = "/roadmap.v1.RoadmapService/";

export class RpcError extends Error {
  constructor(code, message, violations = []) {
    super(message);
    this.code = code;
    this.violations = violations; // [{field, description}] from google.rpc.BadRequest
  }
}

function headers(contentType, timeoutMs) {
  return {
    "Content-Type": contentType,
    "Connect-Protocol-Version": "1",
    "Connect-Timeout-Ms": String(timeoutMs),
  };
}

/** One call: the response message, or an RpcError with the server's field violations. */
export async function call(method, request, { timeoutMs = 20000 } = {}) {
  const response = await fetch(SERVICE + method, {
    method: "POST",
    headers: headers("application/json", timeoutMs),
    body: JSON.stringify(request),
  });
  const text = await response.text();
  if (response.ok) return JSON.parse(text);
  throw errorOf(response.status, text);
}

function errorOf(status, text) {
  let body = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { code: `http_${status}`, message: text || `HTTP ${status}` };
  }
  return new RpcError(body.code || "unknown", body.message || "", violationsOf(body.details || []));
}

/** Many requests in, each answer as it arrives (half-duplex over HTTP/1.1). */
export async function* stream(method, requests, { timeoutMs = 120000 } = {}) {
  const encoder = new TextEncoder();
  const envelopes = requests.map((request) => {
    const bytes = encoder.encode(JSON.stringify(request));
    const envelope = new Uint8Array(5 + bytes.length);
    new DataView(envelope.buffer).setUint32(1, bytes.length);
    envelope.set(bytes, 5);
    return envelope;
  });
  const response = await fetch(SERVICE + method, {
    method: "POST",
    headers: headers("application/connect+json", timeoutMs),
    body: new Blob(envelopes),
  });
  if (!response.ok) throw errorOf(response.status, await response.text());
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (buffer.length < 5 + length) break;
      const flags = buffer[0];
      const message = JSON.parse(decoder.decode(buffer.subarray(5, 5 + length)) || "{}");
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        // end of stream: an error, or nothing
        if (message.error) {
          const { code, message: text, details } = message.error;
          throw new RpcError(code, text, violationsOf(details || []));
        }
        return;
      }
      yield message;
    }
  }
}

// ---- google.rpc.BadRequest, from the error's details (base64 protobuf)

function* wireFields(bytes) {
  let i = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[i++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  while (i < bytes.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield [number, varint()];
    else if (wire === 2) {
      const length = varint();
      yield [number, bytes.subarray(i, i + length)];
      i += length;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return;
  }
}

function base64Bytes(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export function violationsOf(details) {
  const decoder = new TextDecoder();
  const violations = [];
  for (const detail of details) {
    if (detail.type !== "google.rpc.BadRequest" || !detail.value) continue;
    for (const [number, value] of wireFields(base64Bytes(detail.value))) {
      if (number !== 1) continue;
      const violation = { field: "", description: "" };
      for (const [inner, text] of wireFields(value)) {
        if (inner === 1) violation.field = decoder.decode(text);
        if (inner === 2) violation.description = decoder.decode(text);
      }
      violations.push(violation);
    }
  }
  return violations;
}
