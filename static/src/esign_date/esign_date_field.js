/** @odoo-module **/
// A datetime field that is a day to its readers: a lot's expiry, removal, best-before and
// alert dates (product_expiry stores them as datetimes). Odoo's ``show_time: false`` hides
// the clock time only when the field is read-only; the editable input and its picker still
// show and ask for one. This widget treats the value as a date in the reader's time zone,
// both shown and picked, and stores it as the datetime the field is.
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { DateTimeField, dateTimeField } from "@web/views/fields/datetime/datetime_field";

export class EsignDateOfDatetimeField extends DateTimeField {
    get field() {
        return { ...super.field, type: "date" };
    }
}

registry.category("fields").add("esign_date", {
    ...dateTimeField,
    component: EsignDateOfDatetimeField,
    displayName: _t("Date (of a datetime)"),
});
