package ai.fulgur.inference.server;

/**
 * A request the server answers with an error: the HTTP status and the OpenAI error object
 * {@code {"error":{"message","type","param","code"}}}, where {@code param} names the offending request field (null
 * when no single field is at fault).
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400 invalid_request_error for field {@code param}. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "invalid_value", message);
    }

    /** 400 for a field of the wrong JSON type. */
    public static ApiException wrongType(String param, String expected, Object got) {
        return new ApiException(400, "invalid_request_error", param, "invalid_type",
                "'" + param + "' must be " + expected + ", got " + got);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
