/**
 * Where the lake's tables live as URIs (`s3://commerce-lake/processed/…`), and back to keys of the
 * `LAKE` binding. Iceberg metadata names every file by an absolute URI, which engines resolve
 * through R2's S3 API; the Worker writes the same files by key. `LAKE_LOCATION` is the bucket's
 * S3 URI (the bucket name in wrangler.toml); a catalog may place a table elsewhere in the bucket,
 * which maps the same way, and a URI outside the bucket is refused rather than written wrongly.
 */
export class LakeLocation {
  readonly root: string;

  constructor(location: string) {
    const root = location.replace(/\/+$/, "");
    if (!/^s3a?:\/\/[a-z0-9][a-z0-9.-]*$/.test(root)) {
      throw new Error(
        `LAKE_LOCATION must be the lake bucket's S3 URI, like s3://commerce-lake (got "${location}"): set it in wrangler.toml [vars]`,
      );
    }
    this.root = root;
  }

  uriOf(key: string): string {
    return `${this.root}/${key}`;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith(`${this.root}/`)) {
      throw new Error(`lake: ${uri} is outside the lake bucket ${this.root}; LAKE_LOCATION must name the LAKE bucket`);
    }
    return uri.slice(this.root.length + 1);
  }
}
