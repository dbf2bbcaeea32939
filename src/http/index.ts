export { createCsrf, parseCheckedForm, parseCheckedJson, parseCheckedMultipart, type Csrf } from './csrf.ts';
export { frameUploadLimits, parseForm, parseJson, parseMultipart, type MultipartLimits } from './body.ts';
export { errorHandler, renderErrorPage } from './errors.ts';
export { wantsJson } from './negotiate.ts';
export { noStore, securityHeaders } from './security.ts';
export { staticFiles } from './static.ts';
export { createViews, respond, type Views } from './views.ts';
export { createHttpServer, type HttpServerOptions } from './server.ts';
export { createOpsRouter, type OpsDeps } from './ops.ts';
export { databaseUnavailableAs503, notFoundPage, requestMetrics, routeGroup } from './middleware.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    body_too_large: true;
    csrf_invalid: true;
    database_unavailable: true;
    field_too_large: true;
    image_too_large: true;
    not_found: true;
    temporarily_unavailable: true;
    too_many_fields: true;
    too_many_frames: true;
    unsupported_media_type: true;
    upload_interrupted: true;
  }
}
