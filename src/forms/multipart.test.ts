import { describe, expect, it } from "vitest";
import { boundaryOf, parseFormBody } from "./multipart.ts";

const enc = new TextEncoder();
const B = "----b0undary";
const TYPE = `multipart/form-data; boundary=${B}`;
const part = (headers: string, content: string) => `--${B}\r\n${headers}\r\n\r\n${content}\r\n`;
const field = (name: string, value: string) => part(`Content-Disposition: form-data; name="${name}"`, value);
const close = `--${B}--\r\n`;

function parse(body: string | Uint8Array, type = TYPE): FormData {
  return parseFormBody(typeof body === "string" ? enc.encode(body) : body, type);
}

async function entries(data: FormData): Promise<unknown[]> {
  const out = [];
  for (const [name, value] of data) {
    out.push(typeof value === "string" ? [name, value] : [name, value.name, value.type, await value.text()]);
  }
  return out;
}

describe("parseFormBody", () => {
  it("reads fields and files, in order, with the client's file types", async () => {
    const body = field("a", "1") +
      part('Content-Disposition: form-data; name="f"; filename="cv.pdf"\r\nContent-Type: application/pdf', "%PDF") +
      field("a", "2") + close;
    expect(await entries(parse(body))).toEqual([["a", "1"], ["f", "cv.pdf", "application/pdf", "%PDF"], ["a", "2"]]);
  });

  it("keeps binary content whole, near-delimiters included", async () => {
    const bytes = new Uint8Array(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    const near = enc.encode(`\r\n--${B.slice(0, -1)}\r\n--\r\n-${B}\r\n--${B}x\r\n--${B} y`);
    const head = enc.encode(`--${B}\r\nContent-Disposition: form-data; name="bin"; filename="b"\r\n\r\n`);
    const tail = enc.encode(`\r\n${close}`);
    const body = new Uint8Array(head.length + bytes.length + near.length + tail.length);
    body.set(head);
    body.set(bytes, head.length);
    body.set(near, head.length + bytes.length);
    body.set(tail, head.length + bytes.length + near.length);
    const file = parse(body).get("bin") as File;
    const got = new Uint8Array(await file.arrayBuffer());
    expect(got.length).toBe(bytes.length + near.length);
    expect(Buffer.compare(got, body.subarray(head.length, head.length + bytes.length + near.length))).toBe(0);
  });

  it("skips a preamble and an epilogue, and takes transport padding and a close without CRLF", async () => {
    expect(
      await entries(
        parse(`junk\r\n${field("a", "1")}--${B} \t\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--${B}--`),
      ),
    )
      .toEqual([["a", "1"], ["b", "2"]]);
    expect(await entries(parse(field("a", "1") + close + "epilogue --" + B))).toEqual([["a", "1"]]);
  });

  it("undoes the escapes browsers and curl put in names, and prefers filename*", async () => {
    const body = part('Content-Disposition: form-data; name="a%22b%0D%0Ac"', "v") +
      part('Content-Disposition: form-data; name="f"; filename="say \\"hi\\".txt"', "q") +
      part(`Content-Disposition: form-data; name="g"; filename="plain.txt"; filename*=UTF-8''%C3%BCber.txt`, "u") +
      close;
    expect(await entries(parse(body))).toEqual([
      ['a"b\r\nc', "v"],
      ["f", 'say "hi".txt', "text/plain", "q"],
      ["g", "über.txt", "text/plain", "u"],
    ]);
  });

  it("gives an empty file input an empty name, and a file without a type text/plain (RFC 7578 §4.4)", () => {
    const data = parse(
      part('Content-Disposition: form-data; name="e"; filename=""\r\nContent-Type: application/octet-stream', "") +
        part('Content-Disposition: form-data; name="t"; filename="x"', "") + close,
    );
    expect([(data.get("e") as File).name, (data.get("e") as File).type]).toEqual(["", "application/octet-stream"]);
    expect((data.get("t") as File).type).toMatch(/^text\/plain/); // Bun's File adds ";charset=utf-8"
  });

  it("refuses malformed bodies with a TypeError that says what is wrong", () => {
    const cases: [string, string][] = [
      ["", "multipart body has no delimiter for its boundary"],
      ["no delimiter here", "multipart body has no delimiter for its boundary"],
      [field("a", "1"), "multipart body ends early, before its closing delimiter"],
      [field("a", "1") + `--${B}`, "multipart body ends early"],
      [`--${B}\r\nContent-Disposition: form-data; name="a"`, "multipart body ends early, in a part's headers"],
      [`--${B}\nContent-Disposition: form-data; name="a"\n\n1\n--${B}--\n`, "malformed multipart delimiter line"],
      [part("Content-Type: text/plain", "v") + close, "multipart part without a Content-Disposition"],
      [
        part('Content-Disposition: attachment; name="a"', "v") + close,
        'multipart part is not form-data: "attachment; name=\\"a\\""',
      ],
      [part("Content-Disposition: form-data", "v") + close, "multipart part without a name"],
      [
        part("Content-Disposition form-data", "v") + close,
        'malformed multipart header line "Content-Disposition form-data"',
      ],
      // A part whose headers end without a blank line: the next delimiter must
      // not be read as a header (with boundary "a:b", "--a:b" looks like one).
      [
        `--${B}\r\nContent-Disposition: form-data; name="x"\r\n${field("y", "v")}${close}`,
        "multipart part's headers run into a delimiter",
      ],
    ];
    for (const [body, message] of cases) {
      expect(() => parse(body), JSON.stringify(body)).toThrow(new TypeError(message));
    }
  });

  it("reads urlencoded forms, and refuses other types and missing boundaries", () => {
    expect([...parse("a=1&b=%C3%A9+x&a=2", "application/x-www-form-urlencoded; charset=UTF-8")]).toEqual([
      ["a", "1"],
      ["b", "é x"],
      ["a", "2"],
    ]);
    expect(() => parse("{}", "application/json")).toThrow(TypeError);
    expect(() => parse(field("a", "1") + close, "multipart/form-data")).toThrow(
      "multipart/form-data without a valid boundary parameter",
    );
  });
});

it("does not let a part's headers swallow a delimiter that looks like a header line", () => {
  const body = '--a:b\r\nContent-Disposition: form-data; name="x"\r\n--a:b\r\n' +
    'Content-Disposition: form-data; name="y"\r\n\r\nv\r\n--a:b--';
  expect(() => parseFormBody(new TextEncoder().encode(body), "multipart/form-data; boundary=a:b")).toThrow(
    new TypeError("multipart part's headers run into a delimiter"),
  );
});

describe("boundaryOf", () => {
  it("reads the boundary quoted or not, and refuses one that is missing or too long", () => {
    expect(boundaryOf('multipart/form-data; boundary="a b:c"')).toBe("a b:c");
    expect(boundaryOf("multipart/form-data;BOUNDARY=xyz; charset=utf-8")).toBe("xyz");
    expect(boundaryOf("multipart/form-data")).toBeNull();
    expect(boundaryOf(`multipart/form-data; boundary=${"x".repeat(71)}`)).toBeNull();
  });
});
