/**
 * The reference targets, as a registry: the original experiment's own stack (targets/flask-seed:
 * Flask and mongoengine on gunicorn with gevent workers) and the Node/Express API it compared with
 * (targets/express-inline); what each promises, how it is launched, and whether this machine has
 * what it needs. targets/reference-targets.ts starts and stops them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { VariantFacts } from '@mailbench/target-api/contract';
import type { ReferenceName, ReferenceSettings } from '../shapes/scenario.ts';
import { REPO_ROOT } from '../shapes/paths.ts';

const TARGETS_DIR = `${REPO_ROOT}targets/`;

/**
 * Debian's python3, into which the python3-* packages install (not necessarily the first on PATH).
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export const SEED_PACKAGES = [
  'python3-flask',
  'gunicorn',
  'python3-gevent',
  'python3-mongoengine',
  'python3-pymongo',
];

export const SEED_INSTALL_HINT = `pnpm setup:seed (as root; or: apt-get install -y ${SEED_PACKAGES.join(' ')})`;

export interface ReferenceWiring {
  port: number;
  /** mongodb://host:port/DATABASE?… : the database is the cell's. */
  mongoUri: string;
  smtpHost: string;
  smtpPort: number;
}

export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

interface ReferenceEntry {
  /** The stack, a folder of targets/. */
  stack: 'flask-seed' | 'express-inline';
  facts: VariantFacts;
  launch(w: ReferenceWiring, s: ReferenceSettings): Launch;
}

const NOT_PROMISED = {
  promisesDelivery: false,
  mayDuplicate: false,
  sendsFromThreads: false,
  usesRedis: false,
} as const;

function flask(mode: 'no-email' | 'blocking' | 'thread') {
  return (w: ReferenceWiring, s: ReferenceSettings): Launch => ({
    command: DEBIAN_PYTHON,
    args: [
      '-m',
      'gunicorn',
      '-k',
      s.workerClass,
      '-w',
      String(s.workers),
      '-b',
      `127.0.0.1:${w.port}`,
      '--chdir',
      `${TARGETS_DIR}flask-seed`,
      '--log-level',
      'warning',
      'app:app',
    ],
    env: {
      MB_MONGO_URI: w.mongoUri,
      MB_SMTP_HOST: w.smtpHost,
      MB_SMTP_PORT: String(w.smtpPort),
      MB_EMAIL_MODE: mode,
      MB_EMAIL_DELAY_MS: String(s.emailDelayMs),
      MB_PASSWORD_HASH: s.passwordHash,
    },
  });
}

export const REFERENCE_TARGETS = {
  'flask-no-email': {
    stack: 'flask-seed',
    facts: {
      ...NOT_PROMISED,
      sendsMail: false,
      repliesAfterSend: false,
      summary: 'the original: Flask + mongoengine on gunicorn (gevent), no e-mail',
    },
    launch: flask('no-email'),
  },
  'flask-blocking': {
    stack: 'flask-seed',
    facts: {
      ...NOT_PROMISED,
      sendsMail: true,
      repliesAfterSend: true,
      summary:
        'the original: Flask, the e-mail sent in the request (smtplib, a connection per message)',
    },
    launch: flask('blocking'),
  },
  'flask-thread': {
    stack: 'flask-seed',
    facts: {
      ...NOT_PROMISED,
      sendsMail: true,
      repliesAfterSend: false,
      summary:
        'the original: Flask, the e-mail sent from a background thread (a greenlet under gevent)',
    },
    launch: flask('thread'),
  },
  'express-inline': {
    stack: 'express-inline',
    facts: {
      ...NOT_PROMISED,
      sendsMail: true,
      repliesAfterSend: true,
      summary:
        "the original's Node API: express + mongoose, the e-mail sent inline (nodemailer, a connection per message)",
    },
    launch: (w, s) => ({
      command: process.execPath,
      args: [`${TARGETS_DIR}express-inline/server.mjs`],
      env: {
        MB_PORT: String(w.port),
        MB_MONGO_URI: w.mongoUri,
        MB_SMTP_HOST: w.smtpHost,
        MB_SMTP_PORT: String(w.smtpPort),
        MB_EMAIL_DELAY_MS: String(s.emailDelayMs),
      },
    }),
  },
} as const satisfies Record<ReferenceName, ReferenceEntry>;

export function isReference(name: string): name is ReferenceName {
  return Object.hasOwn(REFERENCE_TARGETS, name);
}

/**
 * Whether Debian's python3 can run the Flask target (its packages are installed); the missing
 * modules otherwise.
 */
export function seedStackMissing(): string[] {
  const probe = spawnSync(
    DEBIAN_PYTHON,
    [
      '-c',
      'import importlib.util as u, sys; print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))',
      'flask',
      'gunicorn',
      'gevent',
      'mongoengine',
      'pymongo',
    ],
    { encoding: 'utf8' },
  );
  if (probe.error || probe.status !== 0) return ['python3'];
  return probe.stdout.trim().split(/\s+/).filter(Boolean);
}

/**
 * The versions of the reference stacks' parts, for the run's record (what is not installed is left
 * out).
 */
export function referenceVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const probe = spawnSync(
    DEBIAN_PYTHON,
    [
      '-c',
      'import sys; from importlib.metadata import version\nfor p in sys.argv[1:]:\n  try: print(p, version(p))\n  except Exception: pass',
      'flask',
      'werkzeug',
      'gunicorn',
      'gevent',
      'mongoengine',
      'pymongo',
    ],
    { encoding: 'utf8' },
  );
  if (!probe.error && probe.status === 0) {
    for (const line of probe.stdout.trim().split('\n')) {
      const [name, version] = line.split(' ');
      if (name && version) out[name] = version;
    }
    const py = spawnSync(DEBIAN_PYTHON, ['--version'], { encoding: 'utf8' });
    if (py.status === 0) out.python = py.stdout.trim().replace(/^Python /, '');
  }
  for (const name of ['express', 'mongoose', 'nodemailer']) {
    try {
      const file = fileURLToPath(
        new URL(`express-inline/node_modules/${name}/package.json`, pathToFileURL(TARGETS_DIR)),
      );
      out[`${name} (express-inline)`] = (
        JSON.parse(readFileSync(file, 'utf8')) as { version: string }
      ).version;
    } catch {
      // not installed
    }
  }
  return out;
}
