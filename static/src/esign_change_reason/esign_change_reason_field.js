/** @odoo-module **/
// The "Reason for Change" box of a signed record's form.
//
// It shows once the user edits a field that the record's signatures cover (the server lists
// them in ``esign_signed_field_names``), or when they open it to give the reason a button
// needs (Unreserve on a signed MO changes signed rows without any field being edited). Until
// then a one-line hint stands in for it, so a signed record that nobody edits has no yellow
// box.
import { useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { CharField, charField } from "@web/views/fields/char/char_field";

export class EsignChangeReasonField extends CharField {
    static template = "meddev_esign.EsignChangeReasonField";

    setup() {
        super.setup();
        this.box = useState({ open: false });
    }

    get signedFieldEdited() {
        const record = this.props.record;
        const names = record.data.esign_signed_field_names || [];
        // Reading each field's value subscribes this widget to its edits; ``_changes`` then
        // says whether it differs from what was saved.
        return names.some((name) => record.data[name] !== undefined && name in record._changes);
    }

    get shown() {
        return this.box.open || Boolean(this.props.record.data[this.props.name]) || this.signedFieldEdited;
    }

    open() {
        this.box.open = true;
    }
}

registry.category("fields").add("esign_change_reason", {
    ...charField,
    component: EsignChangeReasonField,
});
