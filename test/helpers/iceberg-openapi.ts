/**
 * Checks a JSON value against a schema of the Iceberg REST catalog's OpenAPI document, which the
 * fake catalog (test/fakes/iceberg-catalog.ts) applies to every request it gets and every answer it
 * gives. The document is vendored byte for byte in test/fixtures/iceberg/rest-catalog-open-api.yaml,
 * from apache/iceberg at commit 7f879b11366e17a676a03f15247a821751415529 (open-api/, last changed in
 * 0e7a36d48ff83792bfeb72eaff2dd2d7fae60eb3); refresh it from there, never edit it.
 *
 * Its schemas are OpenAPI 3.1 JSON Schema with `discriminator`s, which JSON Schema alone ignores:
 * read literally, a requirement would only need a string `type`, and `updates` would accept any
 * action. So the components are rewritten once before Ajv compiles them: a base with a discriminator
 * mapping (TableRequirement, BaseUpdate) becomes, where it is referenced as a value, a union of its
 * mapped schemas picked by the tag; its members' own `allOf` still point at the plain base; and an
 * `anyOf` of such members (TableUpdate) becomes the same kind of union. The trade-off: the rewrite
 * follows this document's patterns, not every use OpenAPI allows, but a tagged union then reports
 * the errors of the one schema its tag names instead of those of all twenty-odd.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { parse } from "yaml";
import specText from "../fixtures/iceberg/rest-catalog-open-api.yaml?raw";

type Json = Record<string, unknown>;

const REF = "#/components/schemas/";
const ROOT = "iceberg-rest-catalog";

interface Discriminated {
  propertyName: string;
  /** The component names the mapping points at, each once. */
  members: string[];
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const refName = (v: unknown): string | null =>
  isObject(v) && typeof v.$ref === "string" && v.$ref.startsWith(REF) ? v.$ref.slice(REF.length) : null;
const defRef = (name: string) => ({ $ref: `#/$defs/${name}` });
const baseName = (name: string) => `${name}__base`;

function discriminatedBases(schemas: Json): Map<string, Discriminated> {
  const bases = new Map<string, Discriminated>();
  for (const [name, schema] of Object.entries(schemas)) {
    if (!isObject(schema) || !isObject(schema.discriminator) || schema.oneOf !== undefined) continue;
    const { propertyName, mapping } = schema.discriminator;
    if (typeof propertyName !== "string" || !isObject(mapping)) continue;
    // Mapping values are bare reference strings ('#/components/schemas/AssertCreate').
    const members = [...new Set(Object.values(mapping).map((target) => refName({ $ref: target })))].filter(
      (m): m is string => m !== null,
    );
    bases.set(name, { propertyName, members });
  }
  return bases;
}

function union(propertyName: string, members: readonly string[]): Json {
  return {
    type: "object",
    required: [propertyName],
    discriminator: { propertyName },
    oneOf: members.map(defRef),
  };
}

/** The document's components as `$defs` of one schema, discriminators made into tagged unions. */
function rewrite(schemas: Json): Json {
  const bases = discriminatedBases(schemas);
  const baseOfAll = (names: string[]) => {
    for (const [base, d] of bases) if (names.every((n) => d.members.includes(n))) return { base, d };
    return null;
  };
  const walk = (node: unknown, atTop: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, false));
    if (!isObject(node)) return node;
    const ref = refName(node);
    if (ref !== null) return { ...node, $ref: `#/$defs/${ref}` };
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "discriminator" && isObject(value)) {
        // Ajv's discriminator takes the tag's values from the oneOf schemas' `const`s, not a mapping.
        out.discriminator = { propertyName: value.propertyName };
      } else if (key === "allOf" && atTop && Array.isArray(value)) {
        // A member's own allOf names its base: the plain base, or the member would have to match itself.
        out.allOf = value.map((item) => {
          const target = refName(item);
          return target !== null && bases.has(target) ? defRef(baseName(target)) : walk(item, false);
        });
      } else if ((key === "anyOf" || key === "oneOf") && Array.isArray(value) && node.discriminator === undefined) {
        const names = value.map(refName);
        const of = names.every((n) => n !== null) ? baseOfAll(names as string[]) : null;
        if (of !== null) Object.assign(out, union(of.d.propertyName, names as string[]));
        else out[key] = walk(value, false);
      } else {
        out[key] = walk(value, false);
      }
    }
    return out;
  };
  const defs: Json = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const d = bases.get(name);
    if (d === undefined) {
      defs[name] = walk(schema, true);
      continue;
    }
    const { discriminator: _, ...plain } = schema as Json;
    defs[baseName(name)] = walk(plain, true);
    defs[name] = union(d.propertyName, d.members);
  }
  return { $id: ROOT, $defs: defs };
}

const document = parse(specText) as { components: { schemas: Json } };

const ajv = new Ajv2020({
  strict: false,
  allErrors: true,
  discriminator: true,
  validateFormats: false,
});
ajv.addSchema(rewrite(document.components.schemas));

const compiled = new Map<string, ValidateFunction>();

function validator(componentName: string): ValidateFunction {
  let validate = compiled.get(componentName);
  if (validate === undefined) {
    if (!Object.hasOwn(document.components.schemas, componentName)) {
      throw new Error(`The Iceberg REST OpenAPI document has no schema ${componentName}`);
    }
    validate = ajv.compile({ $ref: `${ROOT}#/$defs/${componentName}` });
    compiled.set(componentName, validate);
  }
  return validate;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === "" ? "(body)" : e.instancePath;
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "discriminator") return `${at}: ${p.tag} ${JSON.stringify(p.tagValue)} is not one the spec knows`;
  if (e.keyword === "additionalProperties") return `${at}: unknown property "${String(p.additionalProperty)}"`;
  if (e.keyword === "enum") return `${at}: must be one of ${JSON.stringify(p.allowedValues)}`;
  if (e.keyword === "const") return `${at}: must be ${JSON.stringify(p.allowedValue)}`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/** Readable errors of `value` against `#/components/schemas/<componentName>`; empty when it is valid. */
export function validateSchema(componentName: string, value: unknown): string[] {
  const validate = validator(componentName);
  if (validate(value)) return [];
  return [...new Set((validate.errors ?? []).map(describe))];
}
