/**
 * Checks on `service` and `environments` that look across entries or sections, which a schema of
 * one value cannot do: environments need a service, ports are distinct, `PORT` belongs to Gantry,
 * a variable comes from env or from a secret but not both, an analysis `slo` check names an SLO. They read the raw YAML values
 * defensively, so they report alongside the schema's own problems.
 */
import { checkSloChecks } from './config-delivery-slo.ts';
import { type ConfigCheckSink, type ConfigPath, isObject } from './config-common.ts';

/**
 * Runs every cross-entry check of the delivery sections. `stored`: a text an earlier Gantry
 * accepted (a release's), which the checks added since must not refuse (ADR 0051).
 */
export function checkDelivery(sink: ConfigCheckSink, stored = false): void {
  const environments = sink.rawAt(['environments']);
  if (environments !== undefined && sink.rawAt(['service']) === undefined) {
    sink.report(sink.keyOffset(['environments']), "environments need a service to deploy: add a 'service' section with its 'run' command");
  }
  reservedPort(sink, sink.rawAt(['service', 'env']), ['service', 'env']);
  if (!stored) notEvaluated(sink);
  checkSloChecks(sink);
  if (!isObject(environments)) return;
  const ports = new Map<number, string>();
  for (const [name, settings] of Object.entries(environments)) {
    if (!isObject(settings)) continue;
    const base = ['environments', name];
    const port = settings.port;
    if (typeof port === 'number' && Number.isInteger(port)) {
      const owner = ports.get(port);
      if (owner === undefined) ports.set(port, name);
      else sink.report(sink.valueOffset([...base, 'port']), `port ${port} is already used by environment '${owner}'`);
    }
    reservedPort(sink, settings.env, [...base, 'env']);
    reservedPort(sink, settings.secrets, [...base, 'secrets']);
    if (isObject(settings.env) && isObject(settings.secrets)) {
      for (const variable of Object.keys(settings.secrets)) {
        if (!Object.hasOwn(settings.env, variable)) continue;
        sink.report(
          sink.keyOffset([...base, 'secrets', variable]),
          `'${variable}' is in both env and secrets of environment '${name}': keep one`,
        );
      }
    }
  }
}

/** Each instance gets its own $PORT; a fixed one would make every instance collide. */
function reservedPort(sink: ConfigCheckSink, variables: unknown, path: ConfigPath): void {
  if (!isObject(variables) || !Object.hasOwn(variables, 'PORT')) return;
  sink.report(sink.keyOffset([...path, 'PORT']), "'PORT' is set by Gantry for each instance: remove it and read $PORT in the service");
}

/**
 * `${{ }}` is the pipeline's: a service's command and env reach the instance as written, so an
 * expression there would silently be passed on as text. What an instance would read from one
 * (the release's ref, commit, number) is in its environment already.
 */
function notEvaluated(sink: ConfigCheckSink): void {
  const places: ConfigPath[] = [['service', 'run']];
  const variables = (path: ConfigPath) => {
    const value = sink.rawAt(path);
    if (isObject(value)) for (const name of Object.keys(value)) places.push([...path, name]);
  };
  variables(['service', 'env']);
  const environments = sink.rawAt(['environments']);
  if (isObject(environments)) for (const name of Object.keys(environments)) variables(['environments', name, 'env']);
  for (const path of places) {
    const value = sink.rawAt(path);
    const at = typeof value === 'string' ? value.indexOf('${{') : -1;
    if (at < 0) continue;
    sink.report(
      sink.charOffset(path, at),
      `'${path.join('.')}' is passed to the service as written: \${{ }} is evaluated in the pipeline only (an instance finds its release in $GANTRY_RELEASE_REF, $GANTRY_RELEASE_SHA and $GANTRY_RELEASE_NUMBER)`,
    );
  }
}
