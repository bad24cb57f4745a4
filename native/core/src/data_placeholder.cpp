// Placeholder until the data side lands its sources.
namespace asr { void data_placeholder() {} }
