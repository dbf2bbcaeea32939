/**
 * What our middlewares and routers keep in Koa's ctx.state, declared once: where the error page's
 * "Try again" leads, and whether oidc-provider's 500 was a database outage (to become a 503).
 */
declare module 'koa' {
  interface DefaultState {
    retryUrl?: string;
    databaseUnavailable?: boolean;
  }
}

export {};
