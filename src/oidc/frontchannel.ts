import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/index.ts';
import type { Logger } from '../shared/index.ts';

/**
 * OpenID Connect Front-Channel Logout 1.0, which oidc-provider 9 no longer implements (9.x has
 * back-channel logout only), on top of its RP-initiated logout: when the user confirms "sign me
 * out" (POST /session/end/confirm) and the session is destroyed, every client of that session
 * that registered a `frontchannel_logout_uri` is loaded in a hidden iframe of the page the user
 * sees next (section 2), with `iss` and `sid` when it registered
 * `frontchannel_logout_session_required`; the page then continues where oidc-provider would have
 * redirected (the RP's post_logout_redirect_uri, or the signed-out page). The CSP of that page
 * allows exactly those frames' origins.
 *
 * Without any such client the response is oidc-provider's redirect, untouched. When the user
 * chose "No, stay signed in" only the initiating client's grant ends (the session stays), and that
 * client started the logout itself: no frames. Back-channel logout (features.backchannelLogout) is
 * the reliable channel; front-channel frames depend on the RP's page accepting to be framed and,
 * for cookie-based RP sessions, on third-party cookies, which browsers increasingly block.
 */
export interface LogoutFrame {
  src: string;
  origin: string;
  clientName: string;
}

export function frontchannelUrl(logoutUri: string, session: { iss: string; sid: string } | undefined): string {
  if (!session) return logoutUri;
  // Section 2: the registered query "MUST be retained when adding additional query parameters".
  const extra = new URLSearchParams({ iss: session.iss, sid: session.sid }).toString();
  return `${logoutUri}${new URL(logoutUri).search ? '&' : '?'}${extra}`;
}

export function createFrontchannelLogout(deps: { views: Views; issuer: string; logger: Logger }) {
  async function framesOf(ctx: KoaContextWithOIDC): Promise<LogoutFrame[]> {
    const session = ctx.oidc.entities.Session as (typeof ctx.oidc.entities.Session & { destroyed?: boolean }) | undefined;
    if (!session?.destroyed || !session.authorizations) return [];
    const frames: LogoutFrame[] = [];
    for (const [clientId, authorization] of Object.entries(session.authorizations)) {
      const client = await ctx.oidc.provider.Client.find(clientId);
      const metadata = client?.metadata();
      if (!client || typeof metadata?.frontchannel_logout_uri !== 'string') continue;
      const withSession = metadata.frontchannel_logout_session_required === true && authorization.sid ? { iss: deps.issuer, sid: authorization.sid } : undefined;
      const src = frontchannelUrl(metadata.frontchannel_logout_uri, withSession);
      frames.push({ src, origin: new URL(src).origin, clientName: client.clientName ?? clientId });
    }
    return frames;
  }

  return async function frontchannelLogout(ctx: Context, next: Next): Promise<void> {
    await next();
    if (ctx.method !== 'POST' || ctx.status !== 303) return;
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    if (oidc?.route !== 'end_session_confirm') return;
    let frames: LogoutFrame[];
    try {
      frames = await framesOf(ctx as KoaContextWithOIDC);
    } catch (err) {
      // The session is already over; a client that cannot be loaded only loses its frame.
      deps.logger.warn({ err }, 'front-channel logout frames could not be prepared');
      return;
    }
    if (frames.length === 0) return;
    const continueTo = ctx.response.get('Location');
    ctx.remove('Location');
    ctx.status = 200;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    const origins = [...new Set(frames.map((frame) => frame.origin))];
    const csp = ctx.response.get('Content-Security-Policy');
    if (csp) ctx.set('Content-Security-Policy', `${csp}; frame-src ${origins.join(' ')}`);
    ctx.body = deps.views.render('frontchannel-logout.njk', { frames, continueTo, clientNames: [...new Set(frames.map((frame) => frame.clientName))] });
  };
}
