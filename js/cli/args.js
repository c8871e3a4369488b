// args.js - declarative option parsing for the Node CLI, behaving as the
// native one (tools/args.c): "--name value", "--name=value", "--help"/"-h",
// "--" ends the options, range checks, and the same messages; a usage
// error exits 1, help exits 0.

export const EXIT = Object.freeze({ OK: 0, USAGE: 1, FAIL: 2 });

/** Thrown to leave a command with an exit code (its message already printed). */
export class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.exitCode = code;
  }
}

/**
 * @typedef {object} Opt
 * @property {string} name  without "--"
 * @property {'str'|'int'|'float'|'u64'|'flag'} kind
 * @property {string} [metavar]
 * @property {string} help
 * @property {[number, number]} [range] inclusive, for numbers
 * @property {any} [value] the default
 */

/**
 * @param {{usage: string, about: string, opts: Opt[], positionals: [number, number], epilog?: string}} spec
 * @param {string[]} argv  arguments after the subcommand
 * @param {{stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream}} io
 * @returns {{values: Record<string, any>, positionals: string[]}}
 */
export function parseArgs(spec, argv, io) {
  const values = Object.fromEntries(spec.opts.map((o) => [o.name, o.value]));
  const positionals = [];
  const usageError = (msg) => {
    io.stderr.write(`bitstack: ${msg}\n(see: ${spec.usage} --help)\n`);
    throw new Exit(EXIT.USAGE);
  };
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!onlyPositional && a === '--') {
      onlyPositional = true;
      continue;
    }
    if (!onlyPositional && (a === '--help' || a === '-h')) {
      io.stdout.write(helpText(spec));
      throw new Exit(EXIT.OK);
    }
    if (!onlyPositional && a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const o = spec.opts.find((x) => x.name === name);
      if (!o) usageError(`unknown option --${name}`);
      let val;
      if (o.kind === 'flag') {
        if (eq >= 0) usageError(`--${name} ${a.slice(eq + 1)}: takes no value`);
        values[name] = true;
        continue;
      }
      if (eq >= 0) val = a.slice(eq + 1);
      else if (i + 1 < argv.length) val = argv[++i];
      else usageError(`--${name} : needs a value`);
      values[name] = convert(o, val, usageError);
      continue;
    }
    if (positionals.length >= spec.positionals[1]) usageError(`unexpected argument '${a}'`);
    positionals.push(a);
  }
  if (positionals.length < spec.positionals[0]) {
    io.stderr.write(`bitstack: missing argument\nusage: ${spec.usage}\n`);
    throw new Exit(EXIT.USAGE);
  }
  return { values, positionals };
}

function convert(o, val, usageError) {
  const [lo, hi] = o.range ?? [-Infinity, Infinity];
  switch (o.kind) {
    case 'str':
      return val;
    case 'int': {
      const v = /^[+-]?\d+$/.test(val) ? Number(val) : NaN;
      if (!Number.isInteger(v) || v < lo || v > hi) usageError(`--${o.name} ${val}: expects an integer in [${lo}, ${hi}]`);
      return v;
    }
    case 'u64': {
      if (!/^\d+$/.test(val) || BigInt(val) >= 2n ** 64n) usageError(`--${o.name} ${val}: expects a non-negative integer`);
      return BigInt(val);
    }
    case 'float': {
      const v = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(val) ? Number(val) : NaN;
      if (!Number.isFinite(v) || v < lo || v > hi) usageError(`--${o.name} ${val}: expects a number in [${lo}, ${hi}]`);
      return v;
    }
    default:
      return val;
  }
}

export function helpText(spec) {
  let s = `usage: ${spec.usage}\n\n${spec.about}\n\noptions:\n`;
  for (const o of spec.opts) s += `  ${`--${o.name}${o.metavar ? ` ${o.metavar}` : ''}`.padEnd(24)} ${o.help}\n`;
  s += `  ${'--help'.padEnd(24)} show this help and exit\n\nexit codes: 0 ok, 1 usage error, 2 failure\n`;
  if (spec.epilog) s += `\n${spec.epilog}\n`;
  return s;
}
