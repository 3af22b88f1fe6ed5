export * from './messages.ts'
export {
  chooseVersion,
  decodeMessage,
  decodeMessageOrSkip,
  encodeFrame,
  encodeFrameInto,
  encodeMessage,
  encodeSplit,
  messageSize,
  type State as EncodeState
} from './codec.ts'
export { FrameDecoder, type FrameDecoderOptions } from './frame-decoder.ts'
