import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** A CloudFormation resource as it appears in a synthesized template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface StackTemplate {
  readonly stackName: string;
  readonly region: string;
  readonly resources: Record<string, CfnResource>;
  readonly outputs: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
}

export interface Assembly {
  readonly dir: string;
  readonly stacks: StackTemplate[];
}

const SOURCES = ["bin", "lib", "lambdas", "cdk.json", "package-lock.json"];

/**
 * Synthesizes the CDK app into `outDir`, or reuses it when nothing it is built from changed
 * (a hash of the sources and the context is kept beside the assembly).
 */
export function synthesize(projectDir: string, outDir: string, context: Record<string, string>): Assembly {
  // Runtimes starting side by side (test files run in parallel) synthesize one at a time.
  return withLock(`${outDir}.lock`, () => synthesizeUnlocked(projectDir, outDir, context));
}

function synthesizeUnlocked(projectDir: string, outDir: string, context: Record<string, string>): Assembly {
  const contextArgs = Object.entries(context).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
  const fingerprint = hashSources(projectDir, contextArgs);
  const stamp = join(outDir, "steadfast-sources.sha256");
  const fresh = existsSync(stamp) && readFileSync(stamp, "utf8") === fingerprint;
  if (!fresh) {
    const cdk = join(projectDir, "node_modules", "aws-cdk", "bin", "cdk");
    const result = spawnSync(
      process.execPath,
      [cdk, "synth", "--no-notices", "-q", "-o", outDir, ...contextArgs],
      {
        cwd: projectDir,
        encoding: "utf8",
        env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: "true", CDK_DISABLE_VERSION_CHECK: "true" },
      },
    );
    if (result.status !== 0) {
      throw new Error(`cdk synth failed:\n${result.stderr || result.stdout}`);
    }
    writeFileSync(stamp, fingerprint);
  }
  return readAssembly(outDir);
}

/** A lock left by a process that died holding it is taken over after this long. */
const STALE_LOCK_MS = 10 * 60_000;

/** Runs `work` holding a lock directory (mkdir is atomic), waiting for another holder to finish. */
function withLock<T>(lock: string, work: () => T): T {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const since = existsSync(lock) ? statSync(lock, { throwIfNoEntry: false })?.mtimeMs : undefined;
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS)
        rmSync(lock, { recursive: true, force: true });
      else Atomics.wait(pause, 0, 0, 200);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readAssembly(dir: string): Assembly {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
    artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile?: string } }>;
  };
  const stacks: StackTemplate[] = [];
  for (const [name, artifact] of Object.entries(manifest.artifacts)) {
    if (artifact.type !== "aws:cloudformation:stack" || !artifact.properties?.templateFile) continue;
    const region = artifact.environment?.split("/").pop() ?? "";
    const template = JSON.parse(readFileSync(join(dir, artifact.properties.templateFile), "utf8")) as {
      Resources?: Record<string, CfnResource>;
      Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
    };
    stacks.push({
      stackName: name,
      region,
      resources: template.Resources ?? {},
      outputs: template.Outputs ?? {},
    });
  }
  return { dir, stacks };
}

function hashSources(projectDir: string, contextArgs: string[]): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(contextArgs));
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
      return;
    }
    hash.update(relative(projectDir, path));
    hash.update(readFileSync(path));
  };
  for (const source of SOURCES) visit(join(projectDir, source));
  return hash.digest("hex");
}
