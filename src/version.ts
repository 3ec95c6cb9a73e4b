declare const __GATEWAY_VERSION__: string | undefined;

/** The gateway's version, injected by the bundler; the package's version when run from source. */
export const VERSION: string =
  typeof __GATEWAY_VERSION__ === "string" ? __GATEWAY_VERSION__ : (process.env.npm_package_version ?? "0.0.0-dev");

/** The name clients and status output know the gateway by. */
export const GATEWAY_NAME = "claude-mpm-gateway";
