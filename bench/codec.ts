import { IpAddress } from '@wg-dynamic/ip';
import {
  NEW_ADDRESS,
  RequestParser,
  ResponseParser,
  serializeRequest,
  serializeResponse,
  specificAddress,
} from '@wg-dynamic/protocol';
import { rate } from './lib/measure.js';
import type { Figure } from './lib/report.js';

/** Parse and serialize rates of the wire codec for typical messages, on one core. */
export default function codec(): Figure[] {
  const suite = 'codec';
  const v4 = IpAddress.parse('192.168.4.3') as IpAddress;
  const v6 = IpAddress.parse('2001:db8:1234::7') as IpAddress;
  const firstRequest = serializeRequest({ ip: { 4: NEW_ADDRESS, 6: NEW_ADDRESS } });
  const renewal = serializeRequest({
    ip: { 4: specificAddress(v4), 6: specificAddress(v6) },
    extensions: ['route'],
  });
  const responseFields = {
    errno: 0,
    ip: { 4: v4, 6: v6 },
    leaseStart: 1_700_000_000,
    leaseTime: 3600,
  };
  const response = serializeResponse(responseFields);

  const parseOne = (bytes: Buffer) => () => {
    const events = new RequestParser().push(bytes);
    if (events.length !== 1 || !events[0]?.ok) throw new Error('benchmark request did not parse');
  };
  return [
    {
      suite,
      name: 'parse first request (new v4+v6)',
      value: rate(parseOne(firstRequest)),
      unit: 'msg/s',
      target: '>= 500,000',
    },
    { suite, name: 'parse renewal request', value: rate(parseOne(renewal)), unit: 'msg/s' },
    {
      suite,
      name: 'parse response',
      value: rate(() => {
        if (new ResponseParser().push(response).length !== 1) throw new Error('no response');
      }),
      unit: 'msg/s',
    },
    {
      suite,
      name: 'serialize request',
      value: rate(() =>
        serializeRequest({ ip: { 4: specificAddress(v4), 6: specificAddress(v6) } }),
      ),
      unit: 'msg/s',
    },
    {
      suite,
      name: 'serialize response',
      value: rate(() => serializeResponse(responseFields)),
      unit: 'msg/s',
    },
  ];
}
