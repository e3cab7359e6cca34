import { describe, expect, it } from 'vitest';
import {
  bridgeMarkerOf,
  bridgeSourceId,
  carriesMarker,
  isBridgeMessage,
  MARKER_ATTRIBUTE,
} from '../chatwoot/sourceId.js';

const marker = bridgeSourceId('message:1:42:1001', 0);

describe('the bridge marker, wherever it survived', () => {
  it.each([
    [
      'in content_attributes, source_id rewritten by Twilio',
      { source_id: 'SM0123', content_attributes: { [MARKER_ATTRIBUTE]: marker } },
      marker,
    ],
    [
      'in source_id only (older bridge, API inbox)',
      { source_id: marker, content_attributes: {} },
      marker,
    ],
    ['in both', { source_id: marker, content_attributes: { [MARKER_ATTRIBUTE]: marker } }, marker],
    ['a human message', { source_id: null, content_attributes: {} }, undefined],
    [
      'a provider id and no attributes',
      { source_id: 'wamid.abc', content_attributes: null },
      undefined,
    ],
    [
      'a foreign value under the key',
      { source_id: null, content_attributes: { [MARKER_ATTRIBUTE]: 'someone else' } },
      undefined,
    ],
    ['nothing at all', {}, undefined],
  ])('%s', (_name, message, expected) => {
    expect(bridgeMarkerOf(message)).toBe(expected);
    expect(isBridgeMessage(message)).toBe(expected !== undefined);
  });

  it('matches one post exactly, not another part of the same delivery', () => {
    const copy = { source_id: 'SM9', content_attributes: { [MARKER_ATTRIBUTE]: marker } };
    expect(carriesMarker(copy, marker)).toBe(true);
    expect(carriesMarker(copy, bridgeSourceId('message:1:42:1001', 1))).toBe(false);
    expect(carriesMarker({ source_id: marker }, marker)).toBe(true);
  });
});
